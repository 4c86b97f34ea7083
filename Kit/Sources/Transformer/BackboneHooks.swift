// SPDX-License-Identifier: Apache-2.0

/// The hooks attached to one backbone, and how far down backward must go for them.
///
/// Every backbone family keeps its hooks here, so the attachment rules (a hook belongs to
/// a site of this backbone; backward stops at the lowest hooked layer) are written once.
final class BackboneHooks {
    let layerCount: Int
    private let linearSites: Set<LinearSite>
    private let normSites: Set<NormSite>
    private var linear: [HookKey: (site: LinearSite, hook: any LinearHook)] = [:]
    private(set) var hidden: [Int: any HiddenStateHook] = [:]
    let norms: NormHookTable
    /// The lowest block backward must reach, kept current by the setters so that backward
    /// allocates nothing.
    private(set) var lowestHookedLayer: Int

    init(layerCount: Int, linearSites: [LinearSite], normSites: [NormSite], width: Int) {
        self.layerCount = layerCount
        self.linearSites = Set(linearSites)
        self.normSites = Set(normSites)
        norms = NormHookTable(width: width)
        lowestHookedLayer = layerCount
    }

    func set(_ hook: (any LinearHook)?, for site: LinearSite) {
        precondition(linearSites.contains(site), "\(site) is not a linear site of this backbone")
        linear[HookKey(layer: site.layer, module: site.module)] = hook.map { (site, $0) }
        updateLowestHookedLayer()
    }

    func set(_ hook: (any NormHook)?, for site: NormSite) {
        precondition(normSites.contains(site), "\(site) is not a norm of this backbone")
        norms.set(hook, for: site)
        updateLowestHookedLayer()
    }

    func set(_ hook: (any HiddenStateHook)?, atBoundary boundary: Int) {
        precondition((0...layerCount).contains(boundary), "boundary \(boundary) outside 0...\(layerCount)")
        hidden[boundary] = hook
        updateLowestHookedLayer()
    }

    func hasLinearHook(layer: Int, module: LinearModule) -> Bool {
        linear[HookKey(layer: layer, module: module)] != nil
    }

    /// Lets the hook of (layer, module), if any, add to a linear layer's output `(B, T, OC)`.
    func forward(layer: Int, module: LinearModule, output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                 batch: Int, seqLen: Int) {
        if let entry = linear[HookKey(layer: layer, module: module)] {
            entry.hook.forward(output: output, input: input, site: entry.site, batch: batch, seqLen: seqLen)
        }
    }

    /// Shows the hook of (layer, module), if any, the layer's X and G, and lets it add to dX.
    func backward(layer: Int, module: LinearModule, inputGradient: UnsafeMutablePointer<Float>,
                  input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  batch: Int, seqLen: Int) {
        if let entry = linear[HookKey(layer: layer, module: module)] {
            entry.hook.backward(inputGradient: inputGradient, input: input, outputGradient: outputGradient,
                                mask: mask, site: entry.site, batch: batch, seqLen: seqLen)
        }
    }

    /// Backward must reach the lowest hooked layer, boundary or norm.
    private func updateLowestHookedLayer() {
        let hooked = linear.keys.map(\.layer) + hidden.keys + norms.layers
        lowestHookedLayer = min(hooked.min() ?? layerCount, layerCount)
    }
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

/// The options of a low-rank adapter (`rank`, `alpha`, `target_modules`), checked against
/// the backbone they will attach to.
struct LowRankOptions {
    let rank: Int
    let alpha: Double
    /// The dense layers to adapt, in forward order.
    let sites: [LinearSite]
    /// The module names the sites were chosen by (PEFT's `target_modules`).
    let moduleNames: [String]

    /// What `target_modules: []` means, by family: the attention query and value.
    static let defaultModuleNames = [["query", "value"], ["q_proj", "v_proj"], ["c_attn"]]

    /// - Throws: ``AdapterError`` `.invalidOption` for a rank below 1, an alpha that is not
    ///   positive or whose alpha/rank overflows a Float, or a module name the backbone does not have.
    init(options: StrategyOptions, backbone: any Backbone) throws(AdapterError) {
        rank = try options.integer("rank")
        guard rank >= 1 else { throw AdapterError(.invalidOption, "strategy option rank must be at least 1; found \(rank)") }
        alpha = try options.number("alpha")
        // The update is scaled by the Float alpha/rank: 1e308 made it infinite, and every step NaN.
        guard alpha > 0, (alpha / Double(rank)) < Double(Float.greatestFiniteMagnitude) else {
            throw AdapterError(.invalidOption, "strategy option alpha must be positive, with alpha/rank a finite Float; found \(alpha)")
        }
        let available = Set(backbone.linearSites.map(\.module.shortName))
        let requested = try options.stringList("target_modules")
        if requested.isEmpty {
            guard let names = Self.defaultModuleNames.first(where: { $0.allSatisfy(available.contains) }) else {
                throw AdapterError(.unsupportedBackbone, "no attention query and value layers to adapt; set strategy option target_modules (available: \(available.sorted().joined(separator: ", ")))")
            }
            moduleNames = names
        } else {
            if let unknown = requested.first(where: { !available.contains($0) }) {
                throw AdapterError(.invalidOption, "strategy option target_modules names \"\(unknown)\", which the backbone does not have (available: \(available.sorted().joined(separator: ", ")))")
            }
            moduleNames = requested
        }
        let names = Set(moduleNames)
        sites = backbone.linearSites.filter { names.contains($0.module.shortName) }
        if let tooNarrow = sites.first(where: { rank > min($0.inFeatures, $0.outFeatures) }) {
            throw AdapterError(.invalidOption, "strategy option rank \(rank) exceeds the width of \(tooNarrow.parameterName) (\(tooNarrow.inFeatures) → \(tooNarrow.outFeatures))")
        }
    }

    /// The factor the update is multiplied by: alpha / rank, as in LoRA.
    var scale: Float { Float(alpha / Double(rank)) }
}

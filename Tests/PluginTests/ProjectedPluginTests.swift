// SPDX-License-Identifier: Apache-2.0
@_spi(Trainer) import AdapterKit
import Foundation
import Linalg
import Testing
import TestSupport
import Transformer

/// The `projected` plugin, loaded from its built library: options, the allocation's
/// privacy and optimality, the fixed projection, and per-sample gradients.
@Suite struct ProjectedPluginTests {
    static let strategy = Result { try AdapterHarness.loadStrategy("Projected") }

    private func chain() -> LinearChainBackbone {
        LinearChainBackbone(layers: 2, hidden: 6, inner: 10, vocabulary: 20, seed: 3)
    }

    private func harness(_ optionsJSON: String = #"{"rank": 3, "alpha": 6}"#, tasks: [String] = ["x", "y"],
                         seed: UInt64 = 7) throws -> AdapterHarness {
        try AdapterHarness(strategy: Self.strategy.get(), backbone: chain(), optionsJSON: optionsJSON, tasks: tasks, seed: seed)
    }

    private func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / abs(b) }

    @Test func refusesBadOptions() throws {
        let strategy = try Self.strategy.get()
        let cases: [(String, String)] = [
            (#"{"rank": 0}"#, "rank"), (#"{"rank": 7}"#, "rank 7"), (#"{"rank": 3, "alpha": -1}"#, "alpha"),
            (#"{"rank": 3, "beta": 1}"#, "beta"), (#"{"rank": 3, "max_change": 0.5}"#, "max_change"),
            (#"{"rank": 3, "l2": -0.1}"#, "l2"), (#"{"rank": 3, "task_weights": {"z": 1}}"#, "\"z\""),
            (#"{"rank": 3, "task_weights": {"x": 0}}"#, "task_weights"),
            (#"{"rank": 3, "target_modules": ["nope"]}"#, "\"nope\""), (#"{"ranks": 3}"#, "ranks"),
            (#"{"rank": 3, "head_clip_share": 0}"#, "head_clip_share"), (#"{"rank": 3, "head_clip_share": 1}"#, "head_clip_share"),
            (#"{"rank": 3, "projection": "pca"}"#, "\"pca\""),
            // Accepted as finite once, these overflowed the allocation and trapped mid-job, after the charge.
            (#"{"rank": 3, "max_change": 1e155}"#, "max_change must be in [1, 100]"),
            (#"{"rank": 3, "task_weights": {"x": 1e-100}}"#, "task_weights must be in [0.001, 1000.0]"),
            (#"{"rank": 3, "task_weights": {"x": 1e150}}"#, "task_weights must be in [0.001, 1000.0]"),
            (#"{"rank": 3, "alpha": 1e308}"#, "alpha/rank a finite Float"),
        ]
        for (json, named) in cases {
            let error = try #require(throws: AdapterError.self, Comment(rawValue: json)) {
                try strategy.makeAdapter(backbone: chain(), configuration: AdapterHarness.configuration(strategy, optionsJSON: json))
            }
            #expect(error.code == AdapterError.Code.invalidOption, Comment(rawValue: json))
            #expect(error.message.contains(named), Comment(rawValue: "\(json): \(error.message)"))
        }
    }

    /// The bounds themselves train: the allocation stays finite at max_change 100 and task
    /// weights 0.001 and 1000.
    @Test func optionsAtTheirBoundsTrain() throws {
        let harness = try harness(#"{"rank": 3, "alpha": 6, "max_change": 100, "task_weights": {"x": 0.001, "y": 1000}}"#)
        let target = harness.target(noiseMultiplier: AdapterHarness.runNoiseMultiplier, clip: AdapterHarness.runClip)
        for allocation in harness.allocations(steps: 10, seed: 3, signal: { step, g in Double(step * (g + 1)) }) {
            AdapterHarness.expectTight(allocation, target)
        }
    }

    @Test func declaresOnlyB() throws {
        let harness = try harness()
        let names = harness.parameters.segments.map(\.name)
        #expect(names.filter { $0.hasSuffix(".projected_B.weight") }.count == 4)
        #expect(names.allSatisfy { !$0.contains("_A") })
        let query = try #require(harness.parameters.segments.first { $0.name == "encoder.layer.0.attention.self.query.projected_B.weight" })
        #expect(query.shape == [10, 3] && query.task == nil)
        #expect(harness.adapter.mechanism == .gradientPerturbation)
    }

    /// Step 1 has no statistics: the same noise on every segment; a record's head gets
    /// `head_clip_share` of its clip budget and the B's the rest, each part spread by size,
    /// with Σ C_g² = C² over both tasks' heads; and each task's records get σ_eff = σ
    /// exactly, not the larger σ that normalizing over every head at once would give.
    @Test func stepOneSplitsTheClipBetweenHeadsAndB() throws {
        for share in [0.7, 0.3] {
            let harness = try harness(#"{"rank": 3, "alpha": 6, "head_clip_share": \#(share)}"#)
            let target = harness.target(noiseMultiplier: 1.2, clip: 0.8)
            let allocation = harness.adapter.noiseAllocation(target: target, previous: nil)
            let s = allocation.standardDeviations
            #expect(s.allSatisfy { relative($0, s[0]) < 1e-12 })
            let segments = target.segments
            for task: String? in [nil, "x", "y"] {
                let group = segments.indices.filter { segments[$0].task == task }
                let part = (task == nil ? 1 - share : share) / (1 + share)
                let size = Double(group.reduce(0) { $0 + segments[$1].count })
                for g in group {
                    let c = allocation.clip(segment: g)
                    #expect(relative(c * c, 0.64 * part * Double(segments[g].count) / size) < 1e-12, "\(segments[g].name)")
                }
            }
            for sigma in target.effectiveNoiseMultipliers(of: allocation) {
                #expect(relative(sigma, 1.2) < 1e-12)
            }
            AdapterHarness.expectTight(allocation, target)
            // Under unit-level privacy one unit may reach both heads: the same shape is
            // scaled so that the all-segment σ_eff is σ, and the trainer accepts it.
            let unitTarget = harness.target(noiseMultiplier: 1.2, clip: 0.8, unitsSpanRecords: true)
            let unitAllocation = harness.adapter.noiseAllocation(target: unitTarget, previous: nil)
            #expect(relative(unitAllocation.effectiveNoiseMultiplier, 1.2) < 1e-12)
            #expect(unitAllocation.standardDeviations[0] > s[0])
            AdapterHarness.expectTight(unitAllocation, unitTarget)
        }
    }

    /// Released gradients that are pure noise never move the allocation: over many steps of
    /// noise-only statistics every segment keeps its step-1 noise (the earlier calibration
    /// moved segments by ×1.5 a step on one-σ fluctuations).
    @Test func noiseAloneDoesNotMoveTheAllocation() throws {
        for run in 0..<3 {
            let harness = try harness(seed: UInt64(run))
            let target = harness.target(noiseMultiplier: AdapterHarness.runNoiseMultiplier, clip: AdapterHarness.runClip)
            let allocations = harness.allocations(steps: 30, seed: 50 + UInt64(run)) { _, _ in 0 }
            let first = allocations[0].standardDeviations
            for allocation in allocations {
                AdapterHarness.expectTight(allocation, target)
                for (s, s0) in zip(allocation.standardDeviations, first) { #expect(relative(s, s0) < 0.05) }
            }
        }
    }

    /// Over many random runs every allocation is exactly σ-tight, moves no segment's noise by
    /// more than `max_change`, and is a function of the statistics alone: a second adapter
    /// fed the same statistics allocates bit for bit the same.
    @Test func allocationsAreTightLimitedAndDeterministic() throws {
        for run in 0..<6 {
            var draws = SeededGenerator(seed: 100 + UInt64(run))
            let scales = (0..<40).map { _ in exp(12 * draws.nextOpenUnitDouble() - 8) }
            let signal: (Int, Int) -> Double = { step, g in scales[g] * (1 + 0.5 * sin(Double(step * (g + 1)))) }
            let options = #"{"rank": 3, "alpha": 6, "max_change": 1.3, "task_weights": {"x": 2}}"#
            let first = try harness(options, seed: UInt64(run)), second = try harness(options, seed: UInt64(run))
            let target = first.target(noiseMultiplier: AdapterHarness.runNoiseMultiplier, clip: AdapterHarness.runClip)
            let allocations = first.allocations(steps: 25, seed: UInt64(run), signal: signal)
            #expect(allocations == second.allocations(steps: 25, seed: UInt64(run), signal: signal))
            for (before, after) in zip(allocations, allocations.dropFirst()) {
                AdapterHarness.expectTight(after, target)
                for (s0, s1) in zip(before.standardDeviations, after.standardDeviations) {
                    #expect(s1 <= s0 * 1.3 * (1 + 1e-9) && s1 >= s0 / 1.3 * (1 - 1e-9))
                }
            }
            #expect(allocations.last != allocations.first, "the allocation should adapt")
        }
    }

    /// Asking again with the statistics of a step already seen changes nothing.
    @Test func aStepIsCountedOnce() throws {
        let harness = try harness()
        let target = harness.target(noiseMultiplier: 1, clip: 1)
        var generator = SeededGenerator(seed: 5)
        let first = harness.adapter.noiseAllocation(target: target, previous: nil)
        let statistics = AdapterHarness.statistics(
            step: 1, allocation: first, segments: target.segments,
            signalEnergies: target.segments.indices.map { Double($0 + 1) }, expectedBatchSize: 4, generator: &generator)
        let second = harness.adapter.noiseAllocation(target: target, previous: statistics)
        #expect(harness.adapter.noiseAllocation(target: target, previous: statistics) == second)
    }

    /// With a signal far above its noise and the loosest change limit, the allocation is the Lagrange
    /// optimum of D(s) = Σ_g α_g²·d_g²·s_g²/E_g under Σ C_g²/s_g² = 1/σ²: the stationarity
    /// condition α_g²·d_g²·s_g⁴/(E_g·C_g²) is the same for every segment, and random feasible
    /// moves only raise D.
    @Test func strongSignalGivesTheDistortionOptimum() throws {
        let harness = try harness(#"{"rank": 3, "alpha": 6, "max_change": 100, "task_weights": {"x": 3, "y": 1}}"#)
        let target = harness.target(noiseMultiplier: 1.1, clip: 2)
        let segments = target.segments
        var generator = SeededGenerator(seed: 9)
        let start = harness.adapter.noiseAllocation(target: target, previous: nil)
        let energies = segments.indices.map { g in 1e6 * exp(4 * generator.nextOpenUnitDouble()) * Double(segments[g].count) }
        let statistics = AdapterHarness.statistics(step: 1, allocation: start, segments: segments, signalEnergies: energies,
                                                   expectedBatchSize: 32, generator: &generator)
        let allocation = harness.adapter.noiseAllocation(target: target, previous: statistics)
        AdapterHarness.expectTight(allocation, target)
        let estimated = try #require(GroupWiseAllocation.signalEnergies(statistics, segments: segments))
        let alpha = segments.map { $0.task == "x" ? 1.5 : $0.task == "y" ? 0.5 : 1 }
        func distortion(_ s: [Double]) -> Double {
            segments.indices.reduce(0.0) { sum, g in
                let d = Double(segments[g].count)
                return sum + alpha[g] * alpha[g] * d * d * s[g] * s[g] / estimated[g]
            }
        }
        let s = allocation.standardDeviations
        let stationarity = segments.indices.map { g in
            let d = Double(segments[g].count), c = allocation.clip(segment: g)
            return alpha[g] * alpha[g] * d * d * pow(s[g], 4) / (estimated[g] * c * c)
        }
        for value in stationarity { #expect(relative(value, stationarity[0]) < 1e-6) }
        // The shape is the optimum under the all-segment constraint; the scale is then set per task.
        let clips = segments.indices.map { allocation.clip(segment: $0) }
        let everySegment = NoiseTarget(noiseMultiplier: target.noiseMultiplier, clip: target.clip, segments: segments,
                                       unitsSpanRecords: true)
        func allSegments(_ shape: [Double]) -> [Double] {
            GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: everySegment).standardDeviations
        }
        let optimum = distortion(allSegments(s.map { $0 * $0 }))
        for _ in 0..<50 {
            let moved = allSegments(s.map { $0 * $0 * exp(0.2 * generator.nextStandardNormal()) })
            #expect(distortion(moved) >= optimum * (1 - 1e-12))
        }
    }

    /// A more important task gets less noise on its own segments, by exactly 1/α_k in variance
    /// from step 1 on (same shapes, same statistics for both heads).
    @Test func moreImportantTaskGetsLessNoise() throws {
        let harness = try harness(#"{"rank": 3, "alpha": 6, "task_weights": {"x": 3}}"#)
        let target = harness.target(noiseMultiplier: 1, clip: 1)
        let names = target.segments.map(\.name)
        let x = try #require(names.firstIndex(of: "head.x.weight")), y = try #require(names.firstIndex(of: "head.y.weight"))
        let shared = 0
        let first = harness.adapter.noiseAllocation(target: target, previous: nil)
        let s = first.standardDeviations
        // Weights 3 and 1 normalize to 1.5 and 0.5; shared segments keep 1.
        #expect(relative(s[x] * s[x] / (s[y] * s[y]), 1.0 / 3) < 1e-12)
        #expect(relative(s[shared] * s[shared] / (s[y] * s[y]), 0.5) < 1e-12)
        AdapterHarness.expectTight(first, target)
        let allocations = harness.allocations(steps: 8, seed: 4) { _, g in g == x || g == y ? 50 : 5 }
        for allocation in allocations.dropFirst() {
            #expect(allocation.standardDeviations[x] < allocation.standardDeviations[y])
        }
    }

    /// Where the released norms are exactly the expected noise energy, the signal is
    /// indistinguishable from noise and the allocation stays uniform.
    @Test func noiseDominatedSignalShrinksToUniform() throws {
        let harness = try harness()
        let target = harness.target(noiseMultiplier: 1.3, clip: 1)
        let uniform = harness.adapter.noiseAllocation(target: target, previous: nil)
        let noiseOnly = target.segments.indices.map { g in
            Double(target.segments[g].count) * pow(uniform.standardDeviations[g] / 8, 2)
        }
        let statistics = PrivatizedStatistics(step: 1, noisyGradient: [], segmentSquaredNorms: noiseOnly,
                                              allocation: uniform, expectedBatchSize: 8)
        let allocation = harness.adapter.noiseAllocation(target: target, previous: statistics)
        for (a, b) in zip(allocation.standardDeviations, uniform.standardDeviations) { #expect(relative(a, b) < 1e-9) }
    }

    /// A is reproducible from the published seed: the hook's update on the identity input is
    /// ΔWᵀ = (alpha/k)·(B·A)ᵀ with A regenerated here from `projection_seed` by the recipe the
    /// configuration states; another job seed gives another A.
    @Test func projectionIsFixedAndReproducibleFromTheSeed() throws {
        let harness = try harness(#"{"rank": 3, "alpha": 6, "projection": "random"}"#)
        let backbone = try #require(harness.backbone as? LinearChainBackbone)
        harness.adapter.attach(to: backbone, parameters: harness.parameters)
        let configuration = harness.adapter.exportedConfiguration(baseModel: "chain")
        #expect(configuration["dptune_strategy"] == .string("projected"))
        #expect(configuration["target_modules"] == .array([.string("query"), .string("value")]))
        guard case .string(let seedText)? = configuration["projection_seed"], let seed = UInt64(seedText) else {
            Issue.record("projection_seed missing: \(configuration)")
            return
        }
        var generator = SeededGenerator(seed: seed)
        for (index, site) in backbone.linearSites.enumerated() {
            let a = (0..<(3 * site.inFeatures)).map { _ in Float(generator.nextStandardNormal() / Double(site.inFeatures).squareRoot()) }
            let b = harness.parameters.values(index)
            let hook = try #require(backbone.installedHooks[site])
            let identity = (0..<(site.inFeatures * site.inFeatures)).map { Float($0 % (site.inFeatures + 1) == 0 ? 1 : 0) }
            var output = [Float](repeating: 0, count: site.inFeatures * site.outFeatures)
            hook.forward(output: &output, input: identity, site: site, batch: 1, seqLen: site.inFeatures)
            for i in 0..<site.inFeatures {
                for o in 0..<site.outFeatures {
                    let expected = 2 * (0..<3).reduce(Float(0)) { $0 + b[o * 3 + $1] * a[$1 * site.inFeatures + i] }
                    #expect(abs(output[i * site.outFeatures + o] - expected) <= 1e-5 * max(1, abs(expected)))
                }
            }
        }
        #expect(configuration["projection_rule"] == .string("random"))
        let other = try self.harness(seed: 8).adapter.exportedConfiguration(baseModel: "chain")["projection_seed"]
        #expect(other != configuration["projection_seed"])
        harness.adapter.detach(from: backbone)
        #expect(backbone.installedHooks.isEmpty)
    }

    /// The update s·B·A of every hook, as a matrix `(OC, IC)`: its forward on the identity input.
    private func updateMatrices(_ harness: AdapterHarness) throws -> [(site: LinearSite, update: [[Double]])] {
        let backbone = try #require(harness.backbone as? LinearChainBackbone)
        harness.adapter.attach(to: backbone, parameters: harness.parameters)
        defer { harness.adapter.detach(from: backbone) }
        return try backbone.linearSites.map { site in
            let hook = try #require(backbone.installedHooks[site])
            let identity = (0..<(site.inFeatures * site.inFeatures)).map { Float($0 % (site.inFeatures + 1) == 0 ? 1 : 0) }
            var output = [Float](repeating: 0, count: site.inFeatures * site.outFeatures)
            hook.forward(output: &output, input: identity, site: site, batch: 1, seqLen: site.inFeatures)
            return (site, (0..<site.outFeatures).map { o in (0..<site.inFeatures).map { Double(output[$0 * site.outFeatures + o]) } })
        }
    }

    /// Orthonormal rows spanning the leading k-dimensional right singular subspace of W
    /// `(m, n)`, by orthogonal iteration on WᵀW in Double: independent of the plugin's LAPACK.
    private func leadingSubspace(_ w: UnsafeBufferPointer<Float>, m: Int, n: Int, k: Int) -> [[Double]] {
        var gram = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n { for j in 0..<n { gram[i][j] = (0..<m).reduce(0.0) { $0 + Double(w[$1 * n + i]) * Double(w[$1 * n + j]) } } }
        var q: [[Double]] = (0..<k).map { r in
            (0..<n).map { (i: Int) -> Double in Double((i * 7 + r * 3) % 5) - 2 + (r == i ? 1 : 0) }
        }
        for _ in 0..<5000 {
            q = q.map { row in (0..<n).map { i in (0..<n).reduce(0.0) { $0 + gram[i][$1] * row[$1] } } }
            for r in 0..<k {
                for p in 0..<r {
                    let dot = zip(q[r], q[p]).reduce(0.0) { $0 + $1.0 * $1.1 }
                    q[r] = zip(q[r], q[p]).map { (a: Double, b: Double) -> Double in a - dot * b }
                }
                let norm = q[r].reduce(0.0) { $0 + $1 * $1 }.squareRoot()
                q[r] = q[r].map { $0 / norm }
            }
        }
        return q
    }

    /// The part of `vector`'s squared norm outside the span of the orthonormal `rows`.
    private func outsideShare(_ vector: [Double], _ rows: [[Double]]) -> Double {
        var rest = vector
        for row in rows {
            let dot = zip(rest, row).reduce(0.0) { $0 + $1.0 * $1.1 }
            rest = zip(rest, row).map { $0 - dot * $1 }
        }
        return rest.reduce(0.0) { $0 + $1 * $1 } / vector.reduce(0.0) { $0 + $1 * $1 }
    }

    /// By default (`projection` "principal") each update s·B·A moves its layer only along
    /// the leading right singular vectors of the frozen weight, with random (full-rank) B:
    /// every row of the update lies in that subspace. A random projection does not, which
    /// shows the check can fail.
    @Test func principalProjectionSpansTheLeadingSingularSubspace() throws {
        let backbone = try #require(try harness().backbone as? LinearChainBackbone)
        var subspaces: [LinearSite: [[Double]]] = [:]
        for site in backbone.linearSites {
            let weight = try #require(backbone.frozenWeight(of: site))
            subspaces[site] = leadingSubspace(weight, m: site.outFeatures, n: site.inFeatures, k: 3)
        }
        let principal = try harness()
        #expect(principal.adapter.exportedConfiguration(baseModel: "chain")["projection_rule"] == .string("principal"))
        for (site, update) in try updateMatrices(principal) {
            let rows = try #require(subspaces[site])
            for row in update { #expect(outsideShare(row, rows) < 1e-8, "\(site)") }
        }
        let random = try harness(#"{"rank": 3, "alpha": 6, "projection": "random"}"#)
        let largest = try updateMatrices(random).flatMap { site, update in
            update.map { outsideShare($0, subspaces[site] ?? []) }
        }.max() ?? 0
        #expect(largest > 0.1)
    }

    /// A backbone that does not expose its weights gets a specific error for the principal
    /// projection and still works with a random one.
    @Test func principalProjectionNeedsTheFrozenWeights() throws {
        let strategy = try Self.strategy.get()
        let error = try #require(throws: AdapterError.self) {
            try strategy.makeAdapter(backbone: SiteListBackbone.llamaLike(),
                                     configuration: AdapterHarness.configuration(strategy, optionsJSON: #"{"rank": 3}"#))
        }
        #expect(error.code == AdapterError.Code.unsupportedBackbone)
        #expect(error.message.contains("does not expose the weight") && error.message.contains("\"random\""), "\(error)")
        _ = try strategy.makeAdapter(backbone: SiteListBackbone.llamaLike(),
                                     configuration: AdapterHarness.configuration(strategy, optionsJSON: #"{"rank": 3, "projection": "random"}"#))
    }

    /// The regularizer's gradient is ∂/∂B of λ1·‖ΔW‖², checked by finite differences of
    /// ‖ΔW‖² measured through the hook.
    @Test func regularizerGradientMatchesFiniteDifferences() throws {
        let harness = try harness(#"{"rank": 3, "alpha": 6, "l2": 0.25}"#)
        let backbone = try #require(harness.backbone as? LinearChainBackbone)
        harness.adapter.attach(to: backbone, parameters: harness.parameters)
        let site = backbone.linearSites[1]
        let hook = try #require(backbone.installedHooks[site])
        func squaredUpdate() -> Double {
            let identity = (0..<(site.inFeatures * site.inFeatures)).map { Float($0 % (site.inFeatures + 1) == 0 ? 1 : 0) }
            var output = [Float](repeating: 0, count: site.inFeatures * site.outFeatures)
            hook.forward(output: &output, input: identity, site: site, batch: 1, seqLen: site.inFeatures)
            return output.reduce(0.0) { $0 + Double($1) * Double($1) }
        }
        var gradient = [Float](repeating: 0, count: harness.parameters.count)
        gradient.withUnsafeMutableBufferPointer { harness.adapter.addRegularizationGradient(parameters: harness.parameters, into: $0) }
        let segment = harness.parameters.segments[1]
        let b = harness.parameters.values(1)
        for i in [0, 5, segment.count - 1] {
            let saved = b[i], h: Float = 1e-2
            b[i] = saved + h
            let plus = squaredUpdate()
            b[i] = saved - h
            let minus = squaredUpdate()
            b[i] = saved
            let numeric = 0.25 * (plus - minus) / (2 * Double(h))
            #expect(abs(Double(gradient[segment.offset + i]) - numeric) <= 1e-3 * max(1, abs(numeric)))
        }
        // Nothing outside the B segments is touched.
        let heads = harness.parameters.segments.filter { $0.task != nil }
        #expect(heads.allSatisfy { head in head.range.allSatisfy { gradient[$0] == 0 } })
    }

    /// Per-sample gradients of B equal the gradients of batches of one, and their sum is the
    /// directional derivative of the loss (finite differences), on a padded batch.
    @Test func perSampleGradientsMatchBatchesOfOne() throws {
        let harness = try harness()
        harness.adapter.attach(to: harness.backbone, parameters: harness.parameters)
        let batch = AdapterHarness.Batch(lengths: [4, 2, 3], seqLen: 4, vocabulary: 20, hidden: 6, seed: 1)
        harness.checkSampleGradients(batch, tolerance: 1e-5)
    }

    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func perSampleGradientsOnMiniLM() throws {
        let backbone = try BertEncoder(directory: SharedFixtures.url("models/minilm-l6"))
        let harness = try AdapterHarness(strategy: Self.strategy.get(), backbone: backbone, optionsJSON: "")
        harness.adapter.attach(to: backbone, parameters: harness.parameters)
        #expect(harness.parameters.segments.filter { $0.name.hasSuffix("projected_B.weight") }.count == 12)
        let batch = AdapterHarness.Batch(lengths: [6, 3], seqLen: 6, vocabulary: 30522, hidden: 384, seed: 2)
        harness.checkSampleGradients(batch, tolerance: 1e-4, finiteDifferences: false)
    }
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Records
import Tokenizers
import TestSupport
@testable import Training
import Transformer

/// An adapter with no hooks whose allocation the test chooses; it can declare one extra
/// segment that no gradient reaches, so the released values there are pure noise.
final class ScriptedAdapter: Adapter {
    let extraSegmentSize: Int
    let allocate: @Sendable (NoiseTarget) -> NoiseAllocation
    var mechanism: PrivacyMechanism = .gradientPerturbation

    init(extraSegmentSize: Int = 0,
         allocate: @escaping @Sendable (NoiseTarget) -> NoiseAllocation = {
             .uniform(noiseMultiplier: $0.noiseMultiplier, clip: $0.clip, segmentCount: $0.segments.count)
         }) {
        self.extraSegmentSize = extraSegmentSize
        self.allocate = allocate
    }

    func declareParameters(in parameters: TrainableParameters) {
        if extraSegmentSize > 0 { parameters.addSegment(name: "unreached", shape: [extraSegmentSize]) }
    }
    func attach(to backbone: any Backbone, parameters: TrainableParameters) {}
    func detach(from backbone: any Backbone) {}
    func noiseAllocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation { allocate(target) }
    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] { [:] }
}

/// MiniLM, its tokenizer and a few encoded sentiment records, loaded once.
enum MiniLMFixture {
    static let directory = SharedFixtures.url("models/minilm-l6")
    static let labels = ["sentiment": ["negative", "positive"]]

    static func backbone() throws -> any Backbone { try loadBackbone(directory: directory) }

    static func encoder() throws -> ClassificationExampleEncoder {
        ClassificationExampleEncoder(
            tokenizer: try WordPieceTokenizer(tokenizerJSON: directory.appendingPathComponent("tokenizer.json")),
            labels: labels, maxLength: 32)
    }

    /// The first `count` sentiment training records, one unit each (or `unitsOf` records per unit).
    static func examples(_ count: Int, recordsPerUnit: Int = 1, file: String = "train") throws -> [TrainingExample] {
        let encoder = try encoder()
        let text = try String(contentsOf: SharedFixtures.url("data/sentiment/\(file).jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").prefix(count).enumerated().map { index, line in
            try encoder.encode(DatasetRecord.parse(Data(line.utf8)), unit: index / recordsPerUnit)
        }
    }
}

/// A strategy whose adapters are ``ScriptedAdapter``s: the head alone trains.
final class HeadOnlyStrategy: AdapterStrategy {
    let id = "head-only"
    let version: String
    let summary = "test strategy: trains the classification head only"
    let options: [StrategyOption]
    /// What its adapters report: a forward-perturbation one stands for a plugin that
    /// calibrates its own release.
    let mechanism: PrivacyMechanism

    /// Another `version` with more `options` stands for a later release of the plugin.
    init(version: String = "0.0.1", options: [StrategyOption] = [], mechanism: PrivacyMechanism = .gradientPerturbation) {
        self.version = version
        self.options = options
        self.mechanism = mechanism
    }

    var mechanismKind: MechanismKind {
        if case .forwardPerturbation = mechanism { .forwardPerturbation } else { .gradientPerturbation }
    }

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        let adapter = ScriptedAdapter()
        adapter.mechanism = mechanism
        return adapter
    }
}

extension MiniLMFixture {
    /// A manifest for the sentiment task with `body` merged into its JSON.
    static func manifest(_ body: String = "") throws -> Manifest {
        let text = #"{"account": "a", "backbone": "minilm-l6", "strategy": "head-only", "labels": {"sentiment": ["negative", "positive"]}"#
            + (body.isEmpty ? "" : ", " + body) + "}"
        return try Manifest.parse(Data(text.utf8), defaults: manifestDefaults)
    }

    /// The training tests' manifest defaults: reproducible noise allowed, and seed 0, the
    /// built-in default when their expectations were drawn (it is 7 since, as the daemon's).
    static var manifestDefaults: ManifestDefaults {
        var defaults = ManifestDefaults(allowInsecureReproducibleNoise: true)
        defaults.train.seed = 0
        return defaults
    }

    /// The first `count` sentiment training lines as a dataset file.
    static func datasetFile(_ count: Int, in directory: URL) throws -> String {
        let text = try String(contentsOf: SharedFixtures.url("data/sentiment/train.jsonl"), encoding: .utf8)
        let url = directory.appendingPathComponent("data.jsonl")
        try (text.split(separator: "\n").prefix(count).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

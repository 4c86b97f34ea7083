// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy

/// `model_card.json`: what was trained, on what, and the privacy guarantee it carries
/// (DESIGN §3.5). It is also what `dptuned predict` rebuilds the adapter from, so every
/// setting that shapes the model is here.
public struct ModelCard: Codable, Sendable, Hashable {
    public static let currentFormat = "dptune-model-card/1"

    public struct Backbone: Codable, Sendable, Hashable {
        public var id: String
        public var parameters: Int
    }

    public struct Strategy: Codable, Sendable, Hashable {
        public var id: String
        public var version: String
        /// Every strategy option the plugin read: the manifest's values and the defaults of
        /// the others. Earlier cards hold the manifest's `strategy_options` only.
        public var options: String
    }

    public struct Guarantee: Codable, Sendable, Hashable {
        /// ε spent at `delta`, priced by `accountant` on the σ_eff actually used.
        public var epsilon: Double
        public var targetEpsilon: Double
        public var delta: Double
        /// `record` or `unit`.
        public var unit: String
        public var adjacency: String
        /// `rdp` or `prv` (the accountant that priced `event`), or `basic_composition` for a
        /// forward-perturbation release whose Gaussian's exact ε plus the label's pure ε is less.
        public var accountant: String
        /// How the guarantee was obtained: `dp-sgd` or `forward-perturbation`.
        public var mechanism: String
        /// The planned σ (DP-SGD); each step's σ_eff is at least this.
        public var noiseMultiplier: Double?
        public var samplingRate: Double?
        public var steps: Int?
        public var clip: Double
        /// N, the training records or units; treated as public (DESIGN §4.3 item 7).
        public var populationSize: Int
        public var datasetSizeIsPublic: Bool
        /// Whether hyper-parameters were tuned on private data (then tuning runs are charged too).
        public var hyperparametersTuned: Bool
        public var event: DpEvent

        enum CodingKeys: String, CodingKey {
            case epsilon, delta, unit, adjacency, accountant, mechanism, clip, event, steps
            case targetEpsilon = "target_epsilon", noiseMultiplier = "noise_multiplier", samplingRate = "sampling_rate"
            case populationSize = "population_size", datasetSizeIsPublic = "dataset_size_is_public"
            case hyperparametersTuned = "hyperparameters_tuned"
        }
    }

    public struct Evaluation: Codable, Sendable, Hashable {
        /// Held out from the private data with the public seed; metrics are not privatized.
        public var split: String
        public var records: Int
        public var accuracy: [String: Double]
    }

    public struct Training: Codable, Sendable, Hashable {
        public var objective: String
        public var labels: [String: [String]]
        public var epochs: Int
        public var expectedBatch: Int
        public var learningRate: Double
        public var maxLength: Int
        public var seed: UInt64
        /// Where the heads started (`random` or `label_names`); absent on generate jobs and
        /// on cards written before the choice existed, which started at random.
        public var headInit: String?
        /// Whether the encoder read each record's instruction (`encode` or `omit`); absent on
        /// generate jobs and on cards written before the choice existed, which encoded it.
        public var instruction: String?
        /// How a classification chunk was padded (a ``SequencePadding``); absent on generate
        /// jobs and on cards written before the choice was recorded, which padded to the longest.
        public var padding: String?

        /// The length every sequence ran at, all positions attended, or nil when each chunk
        /// padded to its longest record with the padding masked out.
        ///
        /// Prediction must shape its inputs as training did: a forward-perturbation adapter
        /// trained at the public `max_len` (dp-forward 1.1.0 onwards) learned its head on
        /// features pooled over every position, one trained before on the real tokens alone.
        public func releaseLength() throws -> Int? {
            switch SequencePadding(rawValue: padding ?? SequencePadding.longest.rawValue) {
            case .longest?: nil
            case .maxLength?: maxLength
            case nil: throw TrainingError(.artifactUnreadable, "the model card's training.padding is \"\(padding ?? "")\", which this version does not know (longest, max_length)")
            }
        }

        enum CodingKeys: String, CodingKey {
            case objective, labels, epochs, seed, instruction, padding
            case expectedBatch = "expected_batch", learningRate = "learning_rate", maxLength = "max_length"
            case headInit = "head_init"
        }
    }

    /// How the sequences of a classification chunk are padded.
    public enum SequencePadding: String, Sendable {
        /// To the chunk's longest record, the padding masked out of attention and pooling.
        case longest
        /// To the public `max_len`, every position attended and pooled, so that a release
        /// does not tell a record's length.
        case maxLength = "max_length"
    }

    public var format: String
    public var jobID: String
    public var createdAt: String
    public var backbone: Backbone
    public var strategy: Strategy
    public var trainableParameters: Int
    public var trainablePercent: Double
    public var privacy: Guarantee
    public var evaluation: Evaluation
    public var training: Training
    /// The ledger job whose charge pays for this guarantee (nil for an unledgered run).
    public var ledgerCharge: String?

    enum CodingKeys: String, CodingKey {
        case format, backbone, strategy, privacy, evaluation, training
        case jobID = "job_id", createdAt = "created_at", trainableParameters = "trainable_parameters"
        case trainablePercent = "trainable_percent", ledgerCharge = "ledger_charge"
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func read(from url: URL) throws -> ModelCard {
        let card: ModelCard
        do {
            card = try JSONDecoder().decode(ModelCard.self, from: Data(contentsOf: url))
        } catch {
            throw TrainingError(.artifactUnreadable, "\(url.path) is not a dptune model card: \(error)")
        }
        guard card.format == currentFormat else {
            throw TrainingError(.artifactUnreadable, "\(url.path) has format \(card.format); this dptune reads \(currentFormat)")
        }
        return card
    }
}

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
        /// The manifest's `strategy_options`, as the plugin received them.
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

    static let coder: (JSONEncoder, JSONDecoder) = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (encoder, decoder)
    }()

    public func jsonData() throws -> Data { try Self.coder.0.encode(self) }

    public static func read(from url: URL) throws -> ModelCard {
        let card: ModelCard
        do {
            card = try coder.1.decode(ModelCard.self, from: Data(contentsOf: url))
        } catch {
            throw TrainingError(.artifactUnreadable, "\(url.path) is not a dptune model card: \(error)")
        }
        guard card.format == currentFormat else {
            throw TrainingError(.artifactUnreadable, "\(url.path) has format \(card.format); this dptune reads \(currentFormat)")
        }
        return card
    }
}

// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A description of a differentially private mechanism, as a tree, that accountants consume.
///
/// Modelled on Google's dp_accounting `DpEvent`. Mechanisms describe *what* they did
/// (which noise, which sampling, how many times); accountants decide what that costs.
///
/// ## Evolution rules (a storage contract)
///
/// The ledger stores events as JSON and recomputes their cost years later, so:
/// - a case is never removed, and never changes meaning;
/// - a new parameter is only ever added as an optional, whose absence means the old behaviour;
/// - new semantics get a new case.
///
/// The JSON form is `{"<case>": {<fields>}}` with snake_case keys, e.g.
/// `{"poisson_sampled":{"probability":0.01,"event":{"gaussian":{"noise_multiplier":1.1}}}}`.
public indirect enum DpEvent: Sendable, Hashable {
    /// Nothing was released; costs nothing.
    case noOp
    /// A release with no privacy guarantee; every accountant reports ε = ∞.
    case nonPrivate
    /// Something no accountant knows how to price. `reason` names it.
    case unsupported(reason: String)
    /// The Gaussian mechanism on a query of L2 sensitivity 1 with noise N(0, σ²):
    /// under add-or-remove-one adjacency its privacy loss is that of N(0,σ²) vs N(1,σ²),
    /// RDP ε(α) = α / (2σ²).
    case gaussian(noiseMultiplier: Double)
    /// `event` run on a subsample that contains each record independently with
    /// probability `probability` (Poisson sampling). Adjacency is add-or-remove-one.
    case poissonSampled(probability: Double, event: DpEvent)
    /// `event` run `count` times, each run seeing the same data (adaptive composition).
    case selfComposed(event: DpEvent, count: Int)
    /// Each event run once, in order, adaptively.
    case composed([DpEvent])
    /// k-ary randomized response with parameter ε: report the true one of `k` values with
    /// probability e^ε/(e^ε + k − 1), each other value with probability 1/(e^ε + k − 1).
    /// Pure ε-DP (δ = 0) under replace-one adjacency of the value; used for label privacy.
    case randomizedResponse(k: Int, epsilon: Double)
}

extension DpEvent {
    /// `event` composed `count` times, normalized so that a count of 1 is the event itself.
    public func repeated(_ count: Int) -> DpEvent {
        precondition(count >= 0, "count must be non-negative; found \(count)")
        if count == 0 { return .noOp }
        return count == 1 ? self : .selfComposed(event: self, count: count)
    }

    /// The event's JSON with sorted keys: how the ledger and messages name it.
    public var stableJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(self) else { return "\(self)" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension DpEvent: Codable {
    private enum CaseKey: String, CodingKey {
        case noOp = "no_op"
        case nonPrivate = "non_private"
        case unsupported
        case gaussian
        case poissonSampled = "poisson_sampled"
        case selfComposed = "self_composed"
        case composed
        case randomizedResponse = "randomized_response"
    }

    private enum FieldKey: String, CodingKey {
        case reason
        case noiseMultiplier = "noise_multiplier"
        case probability
        case event
        case count
        case events
        case k
        case epsilon
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CaseKey.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "a DpEvent is an object with exactly one known key; found \(container.allKeys.map(\.stringValue))"))
        }
        let fields = try container.nestedContainer(keyedBy: FieldKey.self, forKey: key)
        switch key {
        case .noOp: self = .noOp
        case .nonPrivate: self = .nonPrivate
        case .unsupported: self = .unsupported(reason: try fields.decode(String.self, forKey: .reason))
        case .gaussian: self = .gaussian(noiseMultiplier: try fields.decode(Double.self, forKey: .noiseMultiplier))
        case .poissonSampled:
            self = .poissonSampled(
                probability: try fields.decode(Double.self, forKey: .probability),
                event: try fields.decode(DpEvent.self, forKey: .event))
        case .selfComposed:
            self = .selfComposed(
                event: try fields.decode(DpEvent.self, forKey: .event),
                count: try fields.decode(Int.self, forKey: .count))
        case .composed: self = .composed(try fields.decode([DpEvent].self, forKey: .events))
        case .randomizedResponse:
            self = .randomizedResponse(
                k: try fields.decode(Int.self, forKey: .k),
                epsilon: try fields.decode(Double.self, forKey: .epsilon))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CaseKey.self)
        switch self {
        case .noOp:
            _ = container.nestedContainer(keyedBy: FieldKey.self, forKey: .noOp)
        case .nonPrivate:
            _ = container.nestedContainer(keyedBy: FieldKey.self, forKey: .nonPrivate)
        case .unsupported(let reason):
            var fields = container.nestedContainer(keyedBy: FieldKey.self, forKey: .unsupported)
            try fields.encode(reason, forKey: .reason)
        case .gaussian(let sigma):
            var fields = container.nestedContainer(keyedBy: FieldKey.self, forKey: .gaussian)
            try fields.encode(sigma, forKey: .noiseMultiplier)
        case .poissonSampled(let q, let event):
            var fields = container.nestedContainer(keyedBy: FieldKey.self, forKey: .poissonSampled)
            try fields.encode(q, forKey: .probability)
            try fields.encode(event, forKey: .event)
        case .selfComposed(let event, let count):
            var fields = container.nestedContainer(keyedBy: FieldKey.self, forKey: .selfComposed)
            try fields.encode(event, forKey: .event)
            try fields.encode(count, forKey: .count)
        case .composed(let events):
            var fields = container.nestedContainer(keyedBy: FieldKey.self, forKey: .composed)
            try fields.encode(events, forKey: .events)
        case .randomizedResponse(let k, let epsilon):
            var fields = container.nestedContainer(keyedBy: FieldKey.self, forKey: .randomizedResponse)
            try fields.encode(k, forKey: .k)
            try fields.encode(epsilon, forKey: .epsilon)
        }
    }
}

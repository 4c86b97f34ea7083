// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Saved accountant state: `{"mechanism":"rdp","neighboring_relation":…,"orders":[…],"events":[…]}`.
///
/// The curve is not stored: it is recomputed from the events on load, so a saved state can
/// never disagree with its own ledger, and a fix to the math re-prices old events. The
/// `mechanism` tag makes state saved by another accountant fail to load here (STYLE 15).
extension RDPAccountant: Codable {
    /// The tag that marks state saved by this accountant.
    static let mechanism = "rdp"

    private enum CodingKeys: String, CodingKey {
        case mechanism
        case neighboringRelation = "neighboring_relation"
        case orders
        case events
    }

    /// - Throws: ``PrivacyError`` `.stateMismatch` if the state was saved by another kind of
    ///   accountant, `.invalidArgument` or `.unsupportedEvent` if its orders or events cannot
    ///   be priced, or a `DecodingError` if it is malformed.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let mechanism = try container.decode(String.self, forKey: .mechanism)
        guard mechanism == Self.mechanism else {
            throw PrivacyError(.stateMismatch, "accountant state was saved by the \(mechanism) accountant, not \(Self.mechanism); refusing to load it")
        }
        let orders = try container.decode([Double].self, forKey: .orders)
        guard !orders.isEmpty else {
            throw PrivacyError(.invalidArgument, "accountant state has no Rényi orders; refusing to load it")
        }
        let events = try container.decode([DpEvent].self, forKey: .events)
        let relation = try container.decode(NeighboringRelation.self, forKey: .neighboringRelation)
        let rdp = try rdpCurve(of: .composed(events), orders: orders, neighboringRelation: relation)
        self.init(orders: orders, neighboringRelation: relation, events: events, rdp: rdp)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.mechanism, forKey: .mechanism)
        try container.encode(neighboringRelation, forKey: .neighboringRelation)
        try container.encode(orders, forKey: .orders)
        try container.encode(events, forKey: .events)
    }
}

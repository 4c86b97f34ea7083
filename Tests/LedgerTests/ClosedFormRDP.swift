// SPDX-License-Identifier: Apache-2.0
import Ledger
import Privacy

/// The closed-form RDP of the events these tests charge, standing in for Privacy's
/// accountant: Gaussian ρ(α) = α/(2σ²), self-composition multiplies, composition adds.
enum ClosedFormRDP {
    struct Unsupported: Error, CustomStringConvertible {
        let event: DpEvent
        var description: String { "no closed form for \(event)" }
    }

    static let evaluator: RdpCurveEvaluator = { event, orders in try curve(of: event, orders: orders) }

    static func curve(of event: DpEvent, orders: [Double]) throws -> [Double] {
        switch event {
        case .noOp:
            return Array(repeating: 0, count: orders.count)
        case .gaussian(let sigma):
            return orders.map { $0 / (2 * sigma * sigma) }
        case .selfComposed(let inner, let count):
            return try curve(of: inner, orders: orders).map { $0 * Double(count) }
        case .composed(let events):
            var sum = Array(repeating: 0.0, count: orders.count)
            for inner in events {
                sum = zip(sum, try curve(of: inner, orders: orders)).map(+)
            }
            return sum
        case .nonPrivate, .unsupported, .poissonSampled, .randomizedResponse:
            throw Unsupported(event: event)
        }
    }
}

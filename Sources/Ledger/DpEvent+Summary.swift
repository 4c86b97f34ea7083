// SPDX-License-Identifier: Apache-2.0
import Privacy

extension DpEvent {
    /// A one-line human form for ledger listings, e.g. `poisson(q=0.01)∘gaussian(σ=1.1) ×1000`.
    var mechanismSummary: String {
        switch self {
        case .noOp: return "no-op"
        case .nonPrivate: return "non-private"
        case .unsupported(let reason): return "unsupported(\(reason))"
        case .gaussian(let sigma): return "gaussian(σ=\(sigma))"
        case .poissonSampled(let q, let event): return "poisson(q=\(q))∘\(event.mechanismSummary)"
        case .selfComposed(let event, let count): return "\(event.mechanismSummary) ×\(count)"
        case .composed(let events):
            let parts = events.prefix(3).map(\.mechanismSummary)
            let more = events.count > 3 ? ", … \(events.count - 3) more" : ""
            return "[" + parts.joined(separator: ", ") + more + "]"
        case .randomizedResponse(let k, let epsilon): return "randomized-response(k=\(k), ε=\(epsilon))"
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy

/// One charge against an account.
public struct ChargeRecord: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Reserved at admission, before the job's first step.
        case reserved
        /// Final: the job succeeded, failed or was cancelled. The cost stays either way.
        case committed
    }

    public let id: Int64
    public let jobID: String
    public let account: String
    public let task: String?
    public let strategy: String
    public let event: DpEvent
    /// A short human form of `event`, e.g. `poisson(q=0.01)∘gaussian(σ=1.1) ×1000`.
    public let mechanism: String
    /// ρ(α) of this charge alone at the account's orders.
    public let curve: [Double]
    /// ε of this charge alone at the account's δ, as the admission filter counts it.
    public let epsilon: Double
    public let state: State
    public let reason: String?
    public let reservedAt: Date
    public let committedAt: Date?
}

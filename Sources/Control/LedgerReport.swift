// SPDX-License-Identifier: Apache-2.0

/// What `dptunectl ledger [--account A]` shows: every charge, never pruned.
public struct LedgerReport: Sendable, Hashable, Codable {
    /// The account asked for, with its remaining budget; nil when all accounts were asked for.
    public var account: AccountSummary?
    public var charges: [ChargeSummary]

    public init(account: AccountSummary? = nil, charges: [ChargeSummary]) {
        self.account = account
        self.charges = charges
    }
}

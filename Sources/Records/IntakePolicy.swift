// SPDX-License-Identifier: Apache-2.0

/// What the daemon knows that a dataset is checked against: its model registry, its loaded
/// plugins, its accounts and their remaining budgets.
///
/// The Records module knows none of these; the daemon answers from its config, plugin
/// registry and ledger.
public protocol IntakePolicy: Sendable {
    var knownBackbones: Set<String> { get }
    var knownStrategies: Set<String> { get }
    var knownAccounts: Set<String> { get }
    /// Strategies no longer offered because their plugin file was removed, with that file;
    /// a dataset naming one is told so rather than that the name is unknown.
    var withdrawnStrategies: [String: String] { get }

    /// Admits the job against the account's budget, or throws why not.
    ///
    /// Called last, once the dataset is known to be valid, because the charge depends on the
    /// dataset size (sampling rate q = B/N and the number of steps).
    ///
    /// - Throws: ``IntakeError`` `budget_exhausted` when the account cannot pay, with the
    ///   remaining budget in the message (DESIGN §3.3); another code when the job cannot
    ///   even be priced (e.g. `delta_too_large` for the training split).
    func admit(account: String, manifest: Manifest, dataset: DatasetSummary) throws(IntakeError)
}

extension IntakePolicy {
    public var withdrawnStrategies: [String: String] { [:] }
}

/// An ``IntakePolicy`` from fixed sets and a budget closure that returns a refusal message.
public struct FixedIntakePolicy: IntakePolicy {
    public var knownBackbones: Set<String>
    public var knownStrategies: Set<String>
    public var knownAccounts: Set<String>
    public var budgetCheck: @Sendable (String, Manifest, DatasetSummary) -> String?

    public init(
        knownBackbones: Set<String>, knownStrategies: Set<String>, knownAccounts: Set<String>,
        budgetCheck: @escaping @Sendable (String, Manifest, DatasetSummary) -> String? = { _, _, _ in nil }
    ) {
        self.knownBackbones = knownBackbones
        self.knownStrategies = knownStrategies
        self.knownAccounts = knownAccounts
        self.budgetCheck = budgetCheck
    }

    public func admit(account: String, manifest: Manifest, dataset: DatasetSummary) throws(IntakeError) {
        if let refusal = budgetCheck(account, manifest, dataset) { throw IntakeError(.budgetExhausted, refusal) }
    }
}

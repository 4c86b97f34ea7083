// SPDX-License-Identifier: Apache-2.0
import Foundation

/// An error from the privacy ledger.
///
/// Every refusal carries enough to act on it: the account, the cap and what was asked
/// for; the line of `accounts.toml` at fault; or the integrity check that failed and how
/// to inspect the file. Equality compares the code only, so codes can be added without
/// breaking callers.
public struct LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case missingDatabase, notALedger, newerLedger, integrityCheckFailed
            case invalidAccountsFile, capBelowSpent, ordersChanged
            case unknownAccount, accountClosed, budgetExceeded, duplicateJob, invalidRequest, invalidCurve
            case unknownJob, jobAlreadyFinished, admissionMismatch
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The database file does not exist and creating it was not asked for.
        public static let missingDatabase = Code(.missingDatabase)
        /// The file exists but is not a dptune ledger (not SQLite, or no ledger schema).
        public static let notALedger = Code(.notALedger)
        /// The file was written by a newer dptune whose schema this build does not know.
        public static let newerLedger = Code(.newerLedger)
        /// The file fails `PRAGMA integrity_check` or a ledger invariant (``LedgerError/failedCheck`` names it).
        public static let integrityCheckFailed = Code(.integrityCheckFailed)
        /// `accounts.toml` is malformed or holds a bad value (``LedgerError/sourceLine`` is the line).
        public static let invalidAccountsFile = Code(.invalidAccountsFile)
        /// A new cap would be below what the account has already spent.
        public static let capBelowSpent = Code(.capBelowSpent)
        /// `accounts.toml` asks for other RDP orders than the ones fixed when the account was created.
        public static let ordersChanged = Code(.ordersChanged)
        /// No account has this name.
        public static let unknownAccount = Code(.unknownAccount)
        /// The account is closed (the accounts file no longer lists it); nothing was charged.
        public static let accountClosed = Code(.accountClosed)
        /// Admitting the job would exceed the account's budget; nothing was charged.
        public static let budgetExceeded = Code(.budgetExceeded)
        /// A job with this id was already admitted.
        public static let duplicateJob = Code(.duplicateJob)
        /// The admission request itself is malformed (no charge, repeated task, bad hash, …).
        public static let invalidRequest = Code(.invalidRequest)
        /// The RDP curve evaluator failed or returned a curve that is not a curve.
        public static let invalidCurve = Code(.invalidCurve)
        /// No job has this id.
        public static let unknownJob = Code(.unknownJob)
        /// The job already succeeded, failed or was cancelled; nothing was changed.
        public static let jobAlreadyFinished = Code(.jobAlreadyFinished)
        /// An admission asked to be resumed differs from the one the ledger recorded; nothing was changed.
        public static let admissionMismatch = Code(.admissionMismatch)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String
    /// The 1-based line of the accounts file at fault, for ``Code/invalidAccountsFile``.
    public let sourceLine: Int?
    /// The name of the failed check, for ``Code/integrityCheckFailed``.
    public let failedCheck: String?
    public let file: String
    public let line: Int

    public init(
        _ code: Code, _ message: String, sourceLine: Int? = nil, failedCheck: String? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.sourceLine = sourceLine
        self.failedCheck = failedCheck
        self.file = file
        self.line = line
    }

    public static func == (lhs: LedgerError, rhs: LedgerError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}

extension LedgerError {
    /// The refusal of a new job on a closed account, which intake also gives before it
    /// spends a preflight on one.
    public static func accountClosed(_ account: String, since closedAt: Date) -> LedgerError {
        LedgerError(
            .accountClosed,
            "account \(account) is closed: the accounts file has not listed it since \(closedAt.formatted(.iso8601)), so it admits no new job (its spending and jobs stay on record; list it in the accounts file again to reopen it); refusing, nothing charged")
    }
}

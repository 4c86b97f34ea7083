// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
import Privacy

/// RDP of a mechanism: ρ(α) at each of the given orders, in order.
public typealias RdpCurveEvaluator = @Sendable (DpEvent, [Double]) throws -> [Double]

/// The durable privacy ledger: accounts and their budgets, and every charge ever made.
///
/// Privacy budget is a resource that must never be over-spent or forgotten, so:
/// - a job is admitted, its dataset recorded and its charges reserved in one
///   `BEGIN IMMEDIATE` transaction, before its first step (``admit(_:)``);
/// - a charge only ever goes from reserved to committed, whatever the job's outcome;
///   there is no refund and no delete (SQLite triggers refuse both);
/// - every change appends to the audit log in the same transaction;
/// - the file is checked when opened (``init(path:create:curveEvaluator:)``) and never
///   recreated or migrated away when damaged.
///
/// The file is SQLite in WAL mode with `synchronous=FULL`: a transaction that returned is
/// on disk, readers see consistent snapshots while the one writer works.
///
/// - Important: One process writes (the daemon). Every method is synchronous and may be
///   called from any thread; readers run concurrently with the writer.
public final class LedgerStore: Sendable {
    public let path: String
    let pool: DatabasePool
    let evaluateCurve: RdpCurveEvaluator

    /// Opens the ledger at `path`, checking its integrity.
    ///
    /// - Parameters:
    ///   - path: the SQLite file.
    ///   - create: create the file when it does not exist. Without it a missing file is an
    ///     error: a ledger that silently starts empty forgets every budget spent.
    ///   - curveEvaluator: prices a `DpEvent` as an RDP curve at an account's orders.
    /// - Throws: ``LedgerError`` `.missingDatabase`, `.notALedger`, `.newerLedger`, or
    ///   `.integrityCheckFailed` naming the check and how to inspect the file.
    public init(path: String, create: Bool = false, curveEvaluator: @escaping RdpCurveEvaluator) throws {
        self.path = path
        self.evaluateCurve = curveEvaluator
        let existed = FileManager.default.fileExists(atPath: path)
        if !existed && !create {
            throw LedgerError(
                .missingDatabase,
                "no privacy ledger at \(path); refusing to create an empty one unless asked: if the ledger was moved or deleted, restore it, or its spent budgets are forgotten")
        }
        if existed {
            try Self.inspect(path: path, create: create)
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(30)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB sets synchronous=NORMAL when it puts the writer in WAL mode, which may
            // lose the last commits on power loss; a returned admission must be on disk.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try LedgerSchema.migrator.migrate(pool)
            try pool.read { db in try LedgerIntegrity.verifyInvariants(db, path: path) }
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            throw LedgerIntegrity.failure("sqlite integrity_check", "\(error)", path: path)
        } catch {
            // A ledger this call set out to create and could not finish holds nothing: left
            // behind (0 bytes on a full disk) it refused every later start as an empty
            // database that is not a ledger.
            if !existed {
                for file in [path, path + "-wal", path + "-shm"]
                where (try? FileManager.default.attributesOfItem(atPath: file)[.type] as? FileAttributeType) == .typeRegular {
                    try? FileManager.default.removeItem(atPath: file)
                }
            }
            throw error
        }
    }

    /// Checks an existing file through a read-only connection before anything writes to
    /// it (opening a pool, migrating): a damaged or foreign file is left exactly as it was.
    ///
    /// - Throws: ``LedgerError`` `.notALedger`, `.newerLedger` or `.integrityCheckFailed`.
    private static func inspect(path: String, create: Bool) throws {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            try DatabaseQueue(path: path, configuration: configuration).read { db in
                let isEmpty = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") == 0
                try LedgerIntegrity.verifyFile(db, path: path)
                let migrator = LedgerSchema.migrator
                if try migrator.hasBeenSuperseded(db) {
                    let applied = try migrator.appliedMigrations(db)
                    throw LedgerError(
                        .newerLedger,
                        "\(path) has schema migrations \(applied) that this build does not know: it was written by a newer dptune; refusing to open it")
                }
                if try migrator.appliedMigrations(db).isEmpty && !(isEmpty && create) {
                    throw LedgerError(
                        .notALedger,
                        isEmpty
                            ? "\(path) is an empty database, not a privacy ledger; refusing to turn it into one unless asked (create: true)"
                            : "\(path) is an SQLite database but not a dptune privacy ledger; refusing to touch it")
                }
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
            throw LedgerIntegrity.failure("sqlite integrity_check", "\(error)", path: path)
        } catch let error as DatabaseError {
            throw LedgerError(
                .notALedger, "\(path) cannot be read as an SQLite database: \(error); \(LedgerIntegrity.inspectionHint(path))")
        }
    }

    // MARK: admission

    /// Admits a job iff the account's budget allows all of its charges, and reserves them.
    ///
    /// The job, its dataset, its reserved charges, the account's new total and the audit
    /// rows are written in one transaction. A refusal charges nothing but is audited.
    ///
    /// - Returns: the reserved charges and the account's spending with this job.
    /// - Throws: ``LedgerError`` `.budgetExceeded` (the message gives the account, its cap,
    ///   ε spent so far and what the job asked for), `.unknownAccount`, `.accountClosed`, `.duplicateJob`,
    ///   `.invalidRequest`, `.invalidCurve`.
    @discardableResult
    public func admit(_ request: AdmissionRequest) throws -> Admission {
        try Self.validate(request)
        // Orders never change after creation, so pricing may happen outside the write lock.
        let orders = try pool.read { db in try AccountRow.fetch(db, name: request.account).orders }
        let curves = try request.charges.map { try curve(of: $0.event, orders: orders) }
        let outcome = try writeImmediately { db in
            try Self.admit(db, request, curves: curves, orders: orders)
        }
        switch outcome {
        case .admitted(let admission): return admission
        case .refused(let error): throw error
        }
    }

    private enum AdmissionOutcome {
        case admitted(Admission)
        case refused(LedgerError)
    }

    private static func admit(
        _ db: Database, _ request: AdmissionRequest, curves: [[Double]], orders: [Double]
    ) throws -> AdmissionOutcome {
        let account = try AccountRow.fetch(db, name: request.account)
        guard account.orders == orders else {
            throw LedgerError(
                .integrityCheckFailed, "the orders of account \(account.name) changed while a job was priced",
                failedCheck: "account orders")
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM jobs WHERE id = ?", arguments: [request.jobID]) != nil {
            throw LedgerError(.duplicateJob, "job \(request.jobID) was already admitted; a job is admitted once")
        }
        let now = Date()
        if let closedAt = account.closedAt {
            try appendAudit(
                db, at: now, operation: "admission.refuse", account: account.name, job: request.jobID,
                detail: AuditDetail(
                    strategy: request.strategy, datasetSHA256: request.dataset.sha256,
                    spoolName: request.dataset.spoolName, reason: "account closed"))
            return .refused(.accountClosed(account.name, since: closedAt))
        }
        let jobCurve = curves.reduce(Array(repeating: 0, count: orders.count), add)
        // Totals add each charge in charge-id order, exactly as the integrity check re-adds them.
        let total = curves.reduce(account.composedCurve, add)
        let spentBefore = account.epsilonSpent
        let spentAfter = PrivacyFilter.epsilon(curve: total, orders: orders, delta: account.deltaCap)
        guard spentAfter <= account.epsilonCap else {
            let asked = PrivacyFilter.epsilon(curve: jobCurve, orders: orders, delta: account.deltaCap)
            try appendAudit(
                db, at: now, operation: "admission.refuse", account: account.name, job: request.jobID,
                detail: AuditDetail(
                    epsilonCap: account.epsilonCap, deltaCap: account.deltaCap, strategy: request.strategy,
                    datasetSHA256: request.dataset.sha256, spoolName: request.dataset.spoolName,
                    reason: "budget exceeded", epsilonSpent: spentBefore, epsilonRequested: asked))
            return .refused(LedgerError(
                .budgetExceeded,
                "account \(account.name) cannot afford job \(request.jobID): its cap is ε = \(account.epsilonCap) at δ = \(account.deltaCap), ε = \(spentBefore) is spent so far (ε = \(max(0, account.epsilonCap - spentBefore)) remains), the job asks for ε = \(asked) on its own (ε = \(spentAfter) together); refusing, nothing charged"))
        }

        let datasetID = try datasetID(db, request, at: now)
        try db.execute(
            sql: "INSERT INTO jobs (id, account, dataset_id, strategy, state, admitted_at) VALUES (?, ?, ?, ?, 'admitted', ?)",
            arguments: [request.jobID, account.name, datasetID, request.strategy, now])
        try appendAudit(
            db, at: now, operation: "job.admit", account: account.name, job: request.jobID,
            detail: AuditDetail(
                strategy: request.strategy, datasetSHA256: request.dataset.sha256,
                spoolName: request.dataset.spoolName, recordCount: request.dataset.recordCount,
                epsilonSpent: spentAfter, epsilonRequested: PrivacyFilter.epsilon(
                    curve: jobCurve, orders: orders, delta: account.deltaCap)))
        var chargeIDs: [Int64] = []
        for (charge, curve) in zip(request.charges, curves) {
            try db.execute(
                sql: """
                    INSERT INTO charges (job_id, account, task, event, curve, state, reserved_at)
                    VALUES (?, ?, ?, ?, ?, 'reserved', ?)
                    """,
                arguments: [request.jobID, account.name, charge.task, try LedgerJSON.encode(charge.event),
                            try LedgerJSON.encode(curve), now])
            let chargeID = db.lastInsertedRowID
            chargeIDs.append(chargeID)
            try appendAudit(
                db, at: now, operation: "charge.reserve", account: account.name, job: request.jobID,
                charge: chargeID, detail: AuditDetail(task: charge.task, event: charge.event, curve: curve))
        }
        try db.execute(
            sql: "UPDATE accounts SET composed_curve = ? WHERE name = ?",
            arguments: [try LedgerJSON.encode(total), account.name])
        return .admitted(Admission(
            jobID: request.jobID, chargeIDs: chargeIDs, epsilonSpent: spentAfter,
            epsilonRemaining: max(0, account.epsilonCap - spentAfter)))
    }

    /// The id of the request's dataset row, inserting it on first sight.
    private static func datasetID(_ db: Database, _ request: AdmissionRequest, at now: Date) throws -> Int64 {
        let dataset = request.dataset
        try db.execute(
            sql: """
                INSERT INTO datasets (sha256, account, spool_name, record_count, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (account, sha256, spool_name) DO NOTHING
                """,
            arguments: [dataset.sha256, request.account, dataset.spoolName, dataset.recordCount, now])
        guard let row = try Row.fetchOne(
            db, sql: "SELECT id, record_count FROM datasets WHERE account = ? AND sha256 = ? AND spool_name = ?",
            arguments: [request.account, dataset.sha256, dataset.spoolName])
        else {
            throw LedgerError(.integrityCheckFailed, "dataset row vanished inside a transaction", failedCheck: "datasets")
        }
        let recorded: Int = row["record_count"]
        guard recorded == dataset.recordCount else {
            throw LedgerError(
                .invalidRequest,
                "dataset \(dataset.spoolName) (sha256 \(dataset.sha256)) was recorded with \(recorded) records, the request says \(dataset.recordCount)")
        }
        return row["id"]
    }

    static func validate(_ request: AdmissionRequest) throws {
        func refuse(_ message: String) -> LedgerError { LedgerError(.invalidRequest, message) }
        for (field, value) in [("job id", request.jobID), ("account", request.account),
                               ("strategy", request.strategy), ("spool name", request.dataset.spoolName)]
        where value.isEmpty || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw refuse("\(field) \(value.debugDescription) is empty or holds control characters")
        }
        let hexDigits = Set("0123456789abcdef")
        guard request.dataset.sha256.count == 64, request.dataset.sha256.allSatisfy(hexDigits.contains) else {
            throw refuse("dataset sha256 must be 64 lower-case hex digits; found \(request.dataset.sha256.debugDescription)")
        }
        guard request.dataset.recordCount >= 0 else {
            throw refuse("dataset record count must be ≥ 0; found \(request.dataset.recordCount)")
        }
        guard !request.charges.isEmpty else {
            throw refuse("job \(request.jobID) has no charge; every admitted job is charged")
        }
        if request.charges.count > 1 {
            var seen = Set<String>()
            for charge in request.charges {
                guard let task = charge.task, !task.isEmpty else {
                    throw refuse("job \(request.jobID) has \(request.charges.count) charges; each must name its task")
                }
                guard seen.insert(task).inserted else {
                    throw refuse("job \(request.jobID) charges task \(task.debugDescription) twice")
                }
            }
        }
    }

    /// The event's curve, checked: one finite-or-+∞, non-negative value per order.
    func curve(of event: DpEvent, orders: [Double]) throws -> [Double] {
        let curve: [Double]
        do {
            curve = try evaluateCurve(event, orders)
        } catch {
            throw LedgerError(.invalidCurve, "cannot price \((try? LedgerJSON.encode(event)) ?? "\(event)"): \(error)")
        }
        guard curve.count == orders.count else {
            throw LedgerError(
                .invalidCurve, "the curve evaluator returned \(curve.count) values for \(orders.count) orders")
        }
        if let bad = curve.indices.first(where: { curve[$0].isNaN || curve[$0] < 0 }) {
            throw LedgerError(
                .invalidCurve,
                "ρ(α = \(orders[bad])) = \(curve[bad]) for \((try? LedgerJSON.encode(event)) ?? "\(event)"); an RDP curve is ≥ 0")
        }
        return curve
    }

    // MARK: lifecycle

    /// Marks an admitted job succeeded; its charges become committed.
    ///
    /// - Throws: ``LedgerError`` `.unknownJob`, or `.jobAlreadyFinished` (nothing changed).
    public func commit(job id: String) throws {
        try finish(job: id, as: .succeeded, reason: nil)
    }

    /// Marks an admitted job failed. Its charges become committed: noisy updates may exist.
    ///
    /// - Throws: ``LedgerError`` `.unknownJob`, or `.jobAlreadyFinished` (nothing changed).
    public func fail(job id: String, reason: String) throws {
        try finish(job: id, as: .failed, reason: reason)
    }

    /// Marks an admitted job cancelled. Its charges become committed, as for a failure.
    ///
    /// - Throws: ``LedgerError`` `.unknownJob`, or `.jobAlreadyFinished` (nothing changed).
    public func cancel(job id: String, reason: String) throws {
        try finish(job: id, as: .cancelled, reason: reason)
    }

    private func finish(job id: String, as outcome: JobRecord.State, reason: String?) throws {
        let operation: String
        switch outcome {
        case .succeeded: operation = "job.succeed"
        case .failed: operation = "job.fail"
        case .cancelled: operation = "job.cancel"
        case .admitted: preconditionFailure("a job is admitted only by admit(_:)")
        }
        try writeImmediately { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT account, state, finished_at FROM jobs WHERE id = ?", arguments: [id])
            else {
                throw LedgerError(.unknownJob, "no job \(id.debugDescription) in the ledger; refusing to mark it \(outcome.rawValue)")
            }
            let account: String = row["account"]
            let state: String = row["state"]
            guard state == JobRecord.State.admitted.rawValue else {
                let finishedAt: Date? = row["finished_at"]
                throw LedgerError(
                    .jobAlreadyFinished,
                    "job \(id) already \(state)\(finishedAt.map { " at \($0)" } ?? ""); refusing to mark it \(outcome.rawValue), nothing changed")
            }
            let now = Date()
            let chargeIDs = try Int64.fetchAll(
                db, sql: "SELECT id FROM charges WHERE job_id = ? ORDER BY id", arguments: [id])
            try db.execute(
                sql: "UPDATE charges SET state = 'committed', reason = ?, committed_at = ? WHERE job_id = ?",
                arguments: [reason, now, id])
            for chargeID in chargeIDs {
                try Self.appendAudit(
                    db, at: now, operation: "charge.commit", account: account, job: id, charge: chargeID,
                    detail: AuditDetail(reason: reason))
            }
            try db.execute(
                sql: "UPDATE jobs SET state = ?, reason = ?, finished_at = ? WHERE id = ?",
                arguments: [outcome.rawValue, reason, now, id])
            try Self.appendAudit(
                db, at: now, operation: operation, account: account, job: id, detail: AuditDetail(reason: reason))
        }
    }

    // MARK: plumbing

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction, committed when `body` returns and
    /// rolled back when it throws.
    func writeImmediately<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            var result: Result<T, Error>?
            try db.inTransaction(.immediate) {
                do {
                    result = .success(try body(db))
                    return .commit
                } catch {
                    result = .failure(error)
                    return .rollback
                }
            }
            guard let result else { preconditionFailure("inTransaction returned without running its body") }
            return try result.get()
        }
    }

    static func appendAudit(
        _ db: Database, at now: Date, operation: String, account: String?, job: String? = nil,
        charge: Int64? = nil, detail: AuditDetail
    ) throws {
        try db.execute(
            sql: "INSERT INTO audit (at, operation, account, job_id, charge_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [now, operation, account, job, charge, try LedgerJSON.encode(detail)])
    }
}

/// Element-wise sum of two curves of equal length.
func add(_ lhs: [Double], _ rhs: [Double]) -> [Double] {
    precondition(lhs.count == rhs.count, "curves of \(lhs.count) and \(rhs.count) orders")
    return zip(lhs, rhs).map(+)
}

// SPDX-License-Identifier: Apache-2.0
import GRDB

/// The ledger's tables, and the migrations that create and evolve them.
///
/// Curves and orders are JSON arrays of numbers (Swift prints a `Double` in its shortest
/// round-tripping form, so a value read back is bit-identical), events are the stable
/// `DpEvent` JSON, timestamps are GRDB's UTC text. Rows that carry privacy cost are
/// protected by triggers: charges only ever go from reserved to committed, and nothing
/// that records spending (accounts, datasets, jobs, charges, audit) is ever deleted.
enum LedgerSchema {
    /// Triggers whose absence means someone edited the file by hand.
    static let requiredTriggers = [
        "audit_append_only_update", "audit_append_only_delete",
        "charges_never_deleted", "charges_only_commit",
        "jobs_never_deleted", "datasets_never_deleted", "accounts_never_deleted",
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (
                    name TEXT PRIMARY KEY NOT NULL,
                    epsilon_cap REAL NOT NULL CHECK (epsilon_cap > 0),
                    delta_cap REAL NOT NULL CHECK (delta_cap > 0 AND delta_cap < 1),
                    orders TEXT NOT NULL,
                    composed_curve TEXT NOT NULL,
                    created_at TEXT NOT NULL
                ) STRICT;
                CREATE TABLE datasets (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
                    account TEXT NOT NULL REFERENCES accounts(name),
                    spool_name TEXT NOT NULL,
                    record_count INTEGER NOT NULL CHECK (record_count >= 0),
                    created_at TEXT NOT NULL,
                    UNIQUE (account, sha256, spool_name)
                ) STRICT;
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY NOT NULL,
                    account TEXT NOT NULL REFERENCES accounts(name),
                    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
                    strategy TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('admitted', 'succeeded', 'failed', 'cancelled')),
                    reason TEXT,
                    admitted_at TEXT NOT NULL,
                    finished_at TEXT
                ) STRICT;
                CREATE TABLE charges (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    job_id TEXT NOT NULL REFERENCES jobs(id),
                    account TEXT NOT NULL REFERENCES accounts(name),
                    task TEXT,
                    event TEXT NOT NULL,
                    curve TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('reserved', 'committed')),
                    reason TEXT,
                    reserved_at TEXT NOT NULL,
                    committed_at TEXT
                ) STRICT;
                CREATE UNIQUE INDEX charges_one_per_task ON charges(job_id, ifnull(task, ''));
                CREATE INDEX charges_by_account ON charges(account, id);
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL,
                    operation TEXT NOT NULL,
                    account TEXT,
                    job_id TEXT,
                    charge_id INTEGER,
                    detail TEXT NOT NULL
                ) STRICT;
                CREATE INDEX audit_by_charge ON audit(charge_id, operation);
                CREATE INDEX audit_by_account ON audit(account, id);
                CREATE INDEX audit_by_job ON audit(job_id, operation);

                CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the ledger audit log is append-only'); END;
                CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the ledger audit log is append-only'); END;
                CREATE TRIGGER charges_never_deleted BEFORE DELETE ON charges
                BEGIN SELECT RAISE(ABORT, 'ledger charges are never deleted (no refunds)'); END;
                CREATE TRIGGER charges_only_commit BEFORE UPDATE ON charges
                WHEN NOT (OLD.state = 'reserved' AND NEW.state = 'committed'
                    AND NEW.id = OLD.id AND NEW.job_id = OLD.job_id AND NEW.account = OLD.account
                    AND NEW.task IS OLD.task AND NEW.event = OLD.event AND NEW.curve = OLD.curve
                    AND NEW.reserved_at = OLD.reserved_at)
                BEGIN SELECT RAISE(ABORT, 'a ledger charge only ever goes from reserved to committed'); END;
                CREATE TRIGGER jobs_never_deleted BEFORE DELETE ON jobs
                BEGIN SELECT RAISE(ABORT, 'ledger jobs are never deleted'); END;
                CREATE TRIGGER datasets_never_deleted BEFORE DELETE ON datasets
                BEGIN SELECT RAISE(ABORT, 'ledger datasets are never deleted'); END;
                CREATE TRIGGER accounts_never_deleted BEFORE DELETE ON accounts
                BEGIN SELECT RAISE(ABORT, 'ledger accounts are never deleted'); END;
                """)
        }
        // An account the accounts file no longer lists is closed to new jobs, not deleted:
        // its spending and jobs stay on record, and listing it again reopens it.
        migrator.registerMigration("v2-account-closing") { db in
            try db.execute(sql: "ALTER TABLE accounts ADD COLUMN closed_at TEXT")
        }
        return migrator
    }
}

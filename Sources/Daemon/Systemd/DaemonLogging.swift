// SPDX-License-Identifier: Apache-2.0
import Logging

/// Where `dptuned`'s log goes: journald natively under systemd, stderr otherwise.
public enum DaemonLogging {
    /// Installs the process-wide log backend (once, from `main`) and returns the root logger.
    public static func bootstrap(environment: [String: String]) -> Logger {
        // Under systemd stderr is connected to the journal: write to it natively instead.
        let underJournal = environment["JOURNAL_STREAM"] != nil
        LoggingSystem.bootstrap { label -> any LogHandler in
            underJournal ? JournalLogHandler(label: label) : StreamLogHandler.standardError(label: label)
        }
        return Logger(label: "dptuned")
    }
}

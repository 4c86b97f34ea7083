// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The ids the daemon gives its jobs: `j-YYYYMMDD-HHMMSS-` and 8 random hex digits, sorting
/// by admission time.
///
/// The prefix also tells the daemon's admissions from those of `dptuned train --ledger`
/// (`local-…`) in a ledger the two share. Only its own are the daemon's to resume or fail
/// at start-up: a foreground run may still be training, and settles its charge itself.
enum DaemonJobID {
    private static let prefix = "j-"

    static func make(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return prefix + formatter.string(from: now) + "-" + String(repeating: "0", count: 8 - random.count) + random
    }

    /// Whether `id` is of a job this daemon, or an earlier one on its ledger, admitted.
    static func isIssued(_ id: String) -> Bool { id.hasPrefix(prefix) }
}

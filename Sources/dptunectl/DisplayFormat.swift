// SPDX-License-Identifier: Apache-2.0
import Foundation

/// How numbers and dates read in human output: short, and the same in every table.
enum DisplayFormat {
    /// ε with two decimals (budgets are set and compared at that precision), small values in
    /// scientific notation so they do not read as 0, and ∞ for a non-private charge.
    static func epsilon(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "∞" : "-∞") }
        if value != 0 && abs(value) < 0.01 { return String(format: "%.1e", value) }
        return String(format: "%.2f", value)
    }

    /// δ is always tiny: scientific notation, e.g. `1e-05`.
    static func delta(_ value: Double) -> String {
        String(format: "%g", value)
    }

    /// A loss with four decimals, or `-` before the first step.
    static func loss(_ value: Double?) -> String {
        guard let value else { return "-" }
        guard value.isFinite else { return "\(value)" }
        return String(format: "%.4f", value)
    }

    /// A throughput: whole numbers once it is above 10, one decimal below.
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        return String(format: value >= 10 ? "%.0f" : "%.1f", value)
    }

    /// A fraction as a whole percentage.
    static func percent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "-" }
        return String(format: "%.0f%%", fraction * 100)
    }

    /// A date in the local time zone, to the minute.
    static func date(_ date: Date?) -> String {
        guard let date else { return "-" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .current
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    /// A duration as hours, minutes and seconds: `1h02m`, `3m05s`, `12s`.
    static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, total % 3600 / 60, total % 60)
        if hours > 0 { return String(format: "%dh%02dm", hours, minutes) }
        if minutes > 0 { return String(format: "%dm%02ds", minutes, rest) }
        return "\(rest)s"
    }
}

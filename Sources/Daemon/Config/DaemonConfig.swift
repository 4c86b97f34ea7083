// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Records
import TOMLKit

/// The daemon's settings, read from `dptuned.toml` (DESIGN §6).
///
/// Strict on purpose: an unknown key or a bad value refuses the whole file with its line, so
/// a typo never silently falls back to a default. Relative paths resolve against the
/// directory of the file.
public struct DaemonConfig: Sendable, Hashable {
    public struct Paths: Sendable, Hashable {
        public var stateDirectory: URL
        public var spool: URL
        public var plugins: URL
        public var adapters: URL
        public var ledger: URL
        public var accounts: URL
        public var models: URL
    }

    public struct ControlSocket: Sendable, Hashable {
        public var path: String
        /// Group owning the socket file; nil keeps the daemon's group.
        public var group: String?
        /// Members may cancel, submit and reload plugins; nil means root only.
        public var adminGroup: String?
        public var requestTimeout: Duration
        /// The most connections served at once (`watch` streams included); more are refused.
        public var maxConnections: Int
    }

    public struct Scheduler: Sendable, Hashable {
        public var workers: Int
        public var threadsPerWorker: Int
        /// How long a cancelled job's worker may take to stop (SIGTERM) before SIGKILL.
        public var cancelGrace: Duration
    }

    public struct IntakeLimits: Sendable, Hashable {
        public var maxLineBytes: Int
        public var maxRecords: Int
    }

    public var paths: Paths
    public var control: ControlSocket
    public var scheduler: Scheduler
    public var intake: IntakeLimits
    public var defaults: ManifestDefaults
    /// The share of records (or units) held out for evaluation, in [0, 1).
    public var heldOutFraction: Double
    /// `held_out_fraction` when the config leaves it out; `dptuned train` holds out as much.
    public static let defaultHeldOutFraction = 0.1
    /// Backbone id → its model directory.
    public var models: [String: URL]
    /// The text this config was parsed from: the daemon hands it to its children
    /// (``ChildConfig``) so that they run under the config it runs under.
    public private(set) var source: String

    /// Reads and checks the file at `url`.
    ///
    /// - Throws: ``DaemonConfigError`` `.unreadable` or `.invalid` (with the line).
    public init(contentsOf url: URL) throws(DaemonConfigError) {
        try self.init(contentsOf: url, standingFor: url)
    }

    /// Reads and checks the file at `url` as if it were `original`: its relative paths
    /// resolve against `original`'s directory and its errors name `original` (a copy of it).
    ///
    /// - Throws: ``DaemonConfigError`` `.unreadable` or `.invalid` (with the line).
    public init(contentsOf url: URL, standingFor original: URL) throws(DaemonConfigError) {
        let source: String
        do {
            source = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DaemonConfigError(.unreadable, "cannot read \(url.path) as UTF-8 text: \(error.localizedDescription)")
        }
        try self.init(parsing: source, path: original.path, baseDirectory: original.deletingLastPathComponent())
    }

    /// Checks the text of a config file; relative paths resolve against `baseDirectory`.
    public init(parsing source: String, path: String, baseDirectory: URL) throws(DaemonConfigError) {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: source)
        } catch let error as TOMLParseError {
            let at = error.source.begin
            throw DaemonConfigError(.invalid, "\(path):\(at.line):\(at.column): \(error.description)", sourceLine: at.line)
        } catch {
            throw DaemonConfigError(.invalid, "\(path): \(error)")
        }
        let reader = ConfigReader(root: root, lines: TOMLKeyLines(source), path: path, baseDirectory: baseDirectory)
        try reader.allowOnly(["paths", "control", "scheduler", "intake", "defaults", "models"], in: [])

        try reader.allowOnly(["state", "spool", "plugins", "adapters", "ledger", "accounts", "models"], in: ["paths"])
        let state = try reader.location(["paths", "state"], default: "/var/lib/dptune")
        paths = Paths(
            stateDirectory: state,
            spool: try reader.location(["paths", "spool"], default: "/var/lib/dptune/spool"),
            plugins: try reader.location(["paths", "plugins"], default: "/usr/lib/dptune/plugins"),
            adapters: try reader.location(["paths", "adapters"], default: state.appendingPathComponent("adapters").path),
            ledger: try reader.location(["paths", "ledger"], default: state.appendingPathComponent("ledger.sqlite").path),
            accounts: try reader.location(["paths", "accounts"], default: "/etc/dptune/accounts.toml"),
            models: try reader.location(["paths", "models"], default: "/var/lib/dptune/models"))

        try reader.allowOnly(["socket", "group", "admin_group", "request_timeout_seconds", "max_connections"], in: ["control"])
        control = ControlSocket(
            path: try reader.location(["control", "socket"], default: "/run/dptune/control.sock").path,
            group: try reader.optionalString(["control", "group"]),
            adminGroup: try reader.optionalString(["control", "admin_group"]),
            requestTimeout: .milliseconds(Int64(try reader.number(["control", "request_timeout_seconds"], default: 30, in: 0.1...3600) * 1000)),
            maxConnections: try reader.integer(["control", "max_connections"], default: 64, in: 1...4096))

        try reader.allowOnly(["workers", "threads_per_worker", "cancel_grace_seconds"], in: ["scheduler"])
        scheduler = Scheduler(
            workers: try reader.integer(["scheduler", "workers"], default: 1, in: 1...64),
            threadsPerWorker: try reader.integer(["scheduler", "threads_per_worker"], default: 2, in: 1...256),
            cancelGrace: .milliseconds(Int64(try reader.number(["scheduler", "cancel_grace_seconds"], default: 10, in: 0...3600) * 1000)))

        try reader.allowOnly(["max_line_bytes", "max_records"], in: ["intake"])
        intake = IntakeLimits(
            maxLineBytes: try reader.integer(["intake", "max_line_bytes"], default: 1 << 20, in: 64...(1 << 30)),
            maxRecords: try reader.integer(["intake", "max_records"], default: 10_000_000, in: 1...1_000_000_000))

        try reader.allowOnly(["account", "backbone", "strategy", "objective", "held_out_fraction", "privacy", "train"],
                             in: ["defaults"])
        try reader.allowOnly(["epsilon", "delta", "unit", "accountant"], in: ["defaults", "privacy"])
        try reader.allowOnly(["epochs", "expected_batch", "lr", "max_len", "clip", "seed", "head_init", "instruction"],
                             in: ["defaults", "train"])
        // ManifestDefaults' own values, which `dptuned train --backbone DIR` uses without a config.
        let builtIn = ManifestDefaults()
        let accountantName = try reader.choice(["defaults", "privacy", "accountant"], default: builtIn.privacy.accountant.rawValue,
                                               among: ["prv", "pld", "rdp"])
        defaults = ManifestDefaults(
            account: try reader.optionalString(["defaults", "account"]),
            backbone: try reader.optionalString(["defaults", "backbone"]),
            strategy: try reader.optionalString(["defaults", "strategy"]),
            objective: try reader.choice(["defaults", "objective"], default: builtIn.objective),
            privacy: Manifest.Privacy(
                epsilon: try reader.number(["defaults", "privacy", "epsilon"], default: builtIn.privacy.epsilon, in: 1e-6...1e6),
                delta: try reader.number(["defaults", "privacy", "delta"], default: builtIn.privacy.delta, in: 1e-300...0.5),
                unit: try reader.choice(["defaults", "privacy", "unit"], default: builtIn.privacy.unit),
                accountant: accountantName == "rdp" ? .rdp : .prv),
            train: Manifest.Train(
                epochs: try reader.integer(["defaults", "train", "epochs"], default: builtIn.train.epochs, in: 1...10_000),
                expectedBatch: try reader.integer(["defaults", "train", "expected_batch"], default: builtIn.train.expectedBatch,
                                                  in: 1...1_000_000),
                lr: try reader.number(["defaults", "train", "lr"], default: builtIn.train.lr, in: 1e-12...10),
                maxLen: try reader.integer(["defaults", "train", "max_len"], default: builtIn.train.maxLen, in: 1...1_000_000),
                clip: try reader.number(["defaults", "train", "clip"], default: builtIn.train.clip, in: 1e-9...1e9),
                seed: UInt64(try reader.integer(["defaults", "train", "seed"], default: Int(builtIn.train.seed), in: 0...Int.max)),
                headInit: try reader.choice(["defaults", "train", "head_init"], default: builtIn.train.headInit),
                instruction: try reader.choice(["defaults", "train", "instruction"], default: builtIn.train.instruction)))
        heldOutFraction = try reader.number(["defaults", "held_out_fraction"], default: Self.defaultHeldOutFraction, in: 0...0.9)

        var models: [String: URL] = [:]
        for id in try reader.keys(of: ["models"]) {
            models[id] = try reader.location(["models", id], default: nil, relativeTo: paths.models)
        }
        self.models = models
        self.source = source
    }
}

/// Reads typed values out of the TOML tree, refusing with the line of the key at fault.
private struct ConfigReader {
    let root: TOMLTable
    let lines: TOMLKeyLines
    let path: String
    let baseDirectory: URL

    func refuse(_ keyPath: [String], _ message: String) -> DaemonConfigError {
        let line = lines.line(of: keyPath)
        return DaemonConfigError(.invalid, "\(path):\(line.map { "\($0):" } ?? "") \(keyPath.joined(separator: ".")) \(message)", sourceLine: line)
    }

    private func table(_ keyPath: [String]) throws(DaemonConfigError) -> TOMLTable? {
        var table = root
        for key in keyPath {
            guard let value = table[key] else { return nil }
            guard let next = value.table else { throw refuse(keyPath, "must be a table; found a \(value.type)") }
            table = next
        }
        return table
    }

    private func value(_ keyPath: [String]) throws(DaemonConfigError) -> TOMLValueConvertible? {
        guard let last = keyPath.last, let table = try table(Array(keyPath.dropLast())) else { return nil }
        return table[last]
    }

    func keys(of keyPath: [String]) throws(DaemonConfigError) -> [String] {
        (try table(keyPath)?.keys).map { Array($0) } ?? []
    }

    func allowOnly(_ allowed: Set<String>, in keyPath: [String]) throws(DaemonConfigError) {
        for key in try keys(of: keyPath) where !allowed.contains(key) {
            throw refuse(keyPath + [key], "is not a known setting; allowed here: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    func optionalString(_ keyPath: [String]) throws(DaemonConfigError) -> String? {
        guard let value = try value(keyPath) else { return nil }
        guard let text = value.string, !text.isEmpty else { throw refuse(keyPath, "must be a non-empty string; found \(value)") }
        return text
    }

    func choice(_ keyPath: [String], default fallback: String, among choices: [String]) throws(DaemonConfigError) -> String {
        let text = try optionalString(keyPath) ?? fallback
        guard choices.contains(text) else {
            throw refuse(keyPath, "must be one of \(choices.joined(separator: ", ")); found \(text.debugDescription)")
        }
        return text
    }

    func choice<T: RawRepresentable & CaseIterable>(_ keyPath: [String], default fallback: T) throws(DaemonConfigError) -> T
    where T.RawValue == String {
        let text = try choice(keyPath, default: fallback.rawValue, among: T.allCases.map(\.rawValue))
        return T(rawValue: text) ?? fallback
    }

    /// A path from the file; a relative one resolves against `directory`, or the file's own
    /// directory when none is given.
    func location(_ keyPath: [String], default fallback: String?, relativeTo directory: URL? = nil) throws(DaemonConfigError) -> URL {
        guard let text = try optionalString(keyPath) ?? fallback else { throw refuse(keyPath, "must be a path string") }
        let base = URL(fileURLWithPath: (directory ?? baseDirectory).path, isDirectory: true)
        return URL(fileURLWithPath: text, relativeTo: base).standardizedFileURL
    }

    func number(_ keyPath: [String], default fallback: Double, in range: ClosedRange<Double>) throws(DaemonConfigError) -> Double {
        guard let value = try value(keyPath) else { return fallback }
        guard let number = value.double ?? value.int.map(Double.init), range.contains(number) else {
            throw refuse(keyPath, "must be a number in [\(range.lowerBound), \(range.upperBound)]; found \(value)")
        }
        return number
    }

    func integer(_ keyPath: [String], default fallback: Int, in range: ClosedRange<Int>) throws(DaemonConfigError) -> Int {
        guard let value = try value(keyPath) else { return fallback }
        guard let number = value.int, range.contains(number) else {
            throw refuse(keyPath, "must be an integer in \(range.lowerBound)...\(range.upperBound); found \(value)")
        }
        return number
    }
}

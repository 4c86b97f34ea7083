// SPDX-License-Identifier: Apache-2.0
import Foundation

/// What a data owner asks for with a dataset (`NAME.manifest.json`, DESIGN §3.3).
///
/// Parsing is strict: an unknown key, a wrong type or an out-of-range value is refused with
/// `invalid_manifest` and a message naming the key, because a typo such as `"epsilom"` would
/// otherwise silently fall back to a default and spend budget the owner did not mean to.
/// Keys the manifest leaves out come from ``ManifestDefaults`` (the daemon's config); the
/// merged result is range-checked as a whole, so a bad default is caught the same way.
public struct Manifest: Sendable, Hashable {
    public enum Objective: String, Sendable, Hashable, CaseIterable {
        case classify, generate
    }

    /// Whose privacy one unit of the guarantee protects.
    public enum PrivacyUnit: String, Sendable, Hashable, CaseIterable {
        /// One dataset line.
        case record
        /// Every record sharing one `unit` value (e.g. all of one user's records).
        case unit

        /// What N counts, for messages: "records" or "units".
        public var plural: String { "\(rawValue)s" }
    }

    /// The accountant that prices the single job for its model card.
    public enum Accountant: String, Sendable, Hashable, CaseIterable {
        /// The PLD/PRV accountant (tighter for one job); `"pld"` is read as this too.
        case prv
        case rdp
    }

    public struct Privacy: Sendable, Hashable {
        public var epsilon: Double
        public var delta: Double
        public var unit: PrivacyUnit
        public var accountant: Accountant

        public init(epsilon: Double, delta: Double, unit: PrivacyUnit, accountant: Accountant) {
            self.epsilon = epsilon
            self.delta = delta
            self.unit = unit
            self.accountant = accountant
        }
    }

    /// Where a `classify` job's heads start.
    public enum HeadInitialization: String, Sendable, Hashable, CaseIterable {
        /// Small random weights from the public seed.
        case random
        /// At the backbone's features of the declared label names (public, so free of privacy cost).
        case labelNames = "label_names"
    }

    /// Whether a `classify` job's encoder reads each record's instruction.
    ///
    /// With one head per task, a task's instruction is the same for all its records and
    /// tells the head nothing; MiniLM was not trained to follow instructions, and averaging
    /// over the instruction's tokens dilutes the short inputs that differ.
    public enum InstructionUse: String, Sendable, Hashable, CaseIterable {
        /// `[CLS] instruction [SEP] input [SEP]`, the encoding the training issue specifies.
        case encode
        /// `[CLS] input [SEP]`; a record without an input keeps its instruction as its text,
        /// and a chat record keeps its user turns only, when it has any.
        case omit
    }

    public struct Train: Sendable, Hashable {
        public var epochs: Int
        public var expectedBatch: Int
        public var lr: Double
        public var maxLen: Int
        public var clip: Double
        /// Seeds the held-out split and initialization only: never privacy noise, and never the
        /// Poisson batch sampling, whose secrecy the subsampling amplification relies on.
        public var seed: UInt64
        public var headInit: HeadInitialization
        public var instruction: InstructionUse

        public init(epochs: Int, expectedBatch: Int, lr: Double, maxLen: Int, clip: Double, seed: UInt64,
                    headInit: HeadInitialization = .random, instruction: InstructionUse = .encode) {
            self.epochs = epochs
            self.expectedBatch = expectedBatch
            self.lr = lr
            self.maxLen = maxLen
            self.clip = clip
            self.seed = seed
            self.headInit = headInit
            self.instruction = instruction
        }
    }

    public var account: String
    public var backbone: String
    public var strategy: String
    public var objective: Objective
    /// Public label sets by task; required (non-empty) for `classify`.
    public var labels: [String: [String]]
    public var privacy: Privacy
    public var train: Train
    /// Free-form options for the strategy plugin, which validates them itself.
    public var strategyOptions: [String: JSONValue]
    /// Whether the hyper-parameters were chosen by looking at private data (DESIGN §4.3 item 8);
    /// the model card states it.
    public var hyperparametersTuned: Bool
    /// Test-only: derive privacy noise from the seed. Refused unless the defaults allow it.
    public var insecureReproducibleNoise: Bool

    /// The strategy options as compact JSON with sorted keys, as handed to the plugin.
    public var strategyOptionsJSON: Data { JSONValue.object(strategyOptions).jsonData }

    /// Every setting, defaults filled in, as a manifest that parses back to this one under
    /// any defaults: what a job record keeps, so that a queued job trains what was admitted
    /// and charged even when the daemon's defaults change before it starts.
    ///
    /// `train.head_init` and `train.instruction` apply to `classify` only and are left out
    /// for `generate` (a default of `label_names` or `omit` would not parse back there).
    public var resolvedJSON: Data {
        var trainObject: [String: JSONValue] = [
            "epochs": .integer(Int64(train.epochs)), "expected_batch": .integer(Int64(train.expectedBatch)),
            "lr": .number(train.lr), "max_len": .integer(Int64(train.maxLen)), "clip": .number(train.clip),
            // Both sources of a seed, a manifest and the config, bound it by Int64.max.
            "seed": .integer(Int64(clamping: train.seed)),
        ]
        if objective == .classify {
            trainObject["head_init"] = .string(train.headInit.rawValue)
            trainObject["instruction"] = .string(train.instruction.rawValue)
        }
        let object: [String: JSONValue] = [
            "account": .string(account), "backbone": .string(backbone), "strategy": .string(strategy),
            "objective": .string(objective.rawValue),
            "labels": .object(labels.mapValues { .array($0.map(JSONValue.string)) }),
            "privacy": .object([
                "epsilon": .number(privacy.epsilon), "delta": .number(privacy.delta),
                "unit": .string(privacy.unit.rawValue), "accountant": .string(privacy.accountant.rawValue),
            ]),
            "train": .object(trainObject),
            "strategy_options": .object(strategyOptions),
            "hyperparameters_tuned": .bool(hyperparametersTuned),
            "insecure_reproducible_noise": .bool(insecureReproducibleNoise),
        ]
        return JSONValue.object(object).jsonData
    }

    /// Parses `NAME.manifest.json`.
    ///
    /// - Throws: ``IntakeError`` with code `invalid_manifest` naming the key at fault.
    public static func parse(_ data: Data, defaults: ManifestDefaults) throws(IntakeError) -> Manifest {
        let document: JSONValue
        do {
            document = try JSONValue.parse(data)
        } catch let error as JSONValue.StructureRefusal {
            throw IntakeError(.invalidManifest, "the manifest \(error), refusing")
        } catch {
            throw IntakeError(.invalidManifest, "the manifest is not valid JSON: \(error)")
        }
        guard case .object(let object) = document else {
            throw IntakeError(.invalidManifest, "the manifest must be a JSON object; found \(document.typeName)")
        }
        return try Manifest(object: object, defaults: defaults)
    }

    /// The manifest of a dataset that came without one: all defaults, checked like any other.
    ///
    /// - Throws: ``IntakeError`` (`invalid_manifest`) when the defaults leave a key unset or out of range.
    public init(defaults: ManifestDefaults) throws(IntakeError) {
        try self.init(object: [:], defaults: defaults)
    }

    private init(object: [String: JSONValue], defaults: ManifestDefaults) throws(IntakeError) {
        let root = ManifestObject(object, path: "")
        try root.allowOnly([
            "account", "backbone", "strategy", "objective", "labels", "privacy", "train",
            "strategy_options", "hyperparameters_tuned", "insecure_reproducible_noise",
        ])
        account = try root.identifier("account", default: defaults.account)
        backbone = try root.identifier("backbone", default: defaults.backbone)
        strategy = try root.identifier("strategy", default: defaults.strategy)
        objective = try root.choice("objective", default: defaults.objective)
        labels = try root.labels("labels", default: defaults.labels)
        strategyOptions = try root.object("strategy_options")?.members ?? defaults.strategyOptions
        hyperparametersTuned = try root.bool("hyperparameters_tuned") ?? false
        insecureReproducibleNoise = try root.bool("insecure_reproducible_noise") ?? false

        let privacyObject = try root.object("privacy") ?? ManifestObject([:], path: "privacy.")
        try privacyObject.allowOnly(["epsilon", "delta", "unit", "accountant"])
        privacy = Privacy(
            epsilon: try privacyObject.number("epsilon") ?? defaults.privacy.epsilon,
            delta: try privacyObject.number("delta") ?? defaults.privacy.delta,
            unit: try privacyObject.choice("unit", default: defaults.privacy.unit),
            accountant: try privacyObject.choice("accountant", default: defaults.privacy.accountant, aliases: ["pld": .prv]))

        let trainObject = try root.object("train") ?? ManifestObject([:], path: "train.")
        try trainObject.allowOnly(["epochs", "expected_batch", "lr", "max_len", "clip", "seed", "head_init", "instruction"])
        let askedHeadInit: HeadInitialization? = try trainObject.choice("head_init")
        if objective == .generate, askedHeadInit == .labelNames {
            throw IntakeError(.invalidManifest,
                              "\"train.head_init\" \"label_names\" starts a classification head; objective \"generate\" has none")
        }
        let askedInstruction: InstructionUse? = try trainObject.choice("instruction")
        if objective == .generate, askedInstruction == .omit {
            throw IntakeError(.invalidManifest,
                              "\"train.instruction\" \"omit\" applies to classification; objective \"generate\" answers the instruction, which its prompt must keep")
        }
        train = Train(
            epochs: try trainObject.integer("epochs") ?? defaults.train.epochs,
            expectedBatch: try trainObject.integer("expected_batch") ?? defaults.train.expectedBatch,
            lr: try trainObject.number("lr") ?? defaults.train.lr,
            maxLen: try trainObject.integer("max_len") ?? defaults.train.maxLen,
            clip: try trainObject.number("clip") ?? defaults.train.clip,
            seed: try trainObject.seed("seed") ?? defaults.train.seed,
            headInit: askedHeadInit ?? defaults.train.headInit,
            instruction: askedInstruction ?? defaults.train.instruction)

        try checkRanges(allowInsecureNoise: defaults.allowInsecureReproducibleNoise)
    }

    private func checkRanges(allowInsecureNoise: Bool) throws(IntakeError) {
        try require(privacy.epsilon.isFinite && privacy.epsilon > 0, "privacy.epsilon", "> 0", privacy.epsilon)
        try require(privacy.delta > 0 && privacy.delta < 1, "privacy.delta", "in (0, 1)", privacy.delta)
        try require(train.epochs >= 1, "train.epochs", ">= 1", train.epochs)
        try require(train.expectedBatch >= 1, "train.expected_batch", ">= 1", train.expectedBatch)
        try require(train.lr.isFinite && train.lr > 0, "train.lr", "> 0", train.lr)
        try require(train.maxLen >= 8, "train.max_len", ">= 8", train.maxLen)
        try require(train.clip.isFinite && train.clip > 0, "train.clip", "> 0", train.clip)
        if objective == .classify && labels.isEmpty {
            throw IntakeError(
                .invalidManifest, "\"labels\" is required for objective \"classify\": declare each task's public label set")
        }
        if insecureReproducibleNoise && !allowInsecureNoise {
            throw IntakeError(
                .invalidManifest,
                "\"insecure_reproducible_noise\" voids the privacy guarantee and is only allowed in tests; refusing")
        }
    }

    private func require<T>(_ condition: Bool, _ key: String, _ range: String, _ value: T) throws(IntakeError) {
        if !condition {
            throw IntakeError(.invalidManifest, "\"\(key)\" must be \(range); found \(value)")
        }
    }
}

/// A JSON object of the manifest with its dotted path, for reading keys with precise errors.
private struct ManifestObject {
    let members: [String: JSONValue]
    let path: String

    init(_ members: [String: JSONValue], path: String) {
        self.members = members
        self.path = path
    }

    func allowOnly(_ keys: Set<String>) throws(IntakeError) {
        if let unknown = members.keys.sorted().first(where: { !keys.contains($0) }) {
            let known = keys.sorted().map { "\"\(path)\($0)\"" }.joined(separator: ", ")
            throw IntakeError(.invalidManifest, "unknown key \"\(path)\(unknown)\" (known: \(known))")
        }
    }

    private func wrongType(_ key: String, _ expected: String, _ found: JSONValue) -> IntakeError {
        IntakeError(.invalidManifest, "\"\(path)\(key)\" must be \(expected); found \(found.typeName) \(found)")
    }

    func string(_ key: String) throws(IntakeError) -> String? {
        switch members[key] {
        case nil: return nil
        case .string(let value): return value
        case .some(let other): throw wrongType(key, "a string", other)
        }
    }

    /// A non-empty id such as an account, backbone or strategy name.
    func identifier(_ key: String, default fallback: String?) throws(IntakeError) -> String {
        guard let value = try string(key) ?? fallback else {
            throw IntakeError(.invalidManifest, "\"\(path)\(key)\" is missing and the daemon config gives no default")
        }
        if value.isEmpty { throw IntakeError(.invalidManifest, "\"\(path)\(key)\" must not be empty") }
        return value
    }

    /// The value `key` names, or nil when the manifest leaves it out.
    func choice<T: RawRepresentable & CaseIterable>(
        _ key: String, aliases: [String: T] = [:]
    ) throws(IntakeError) -> T? where T.RawValue == String {
        guard let raw = try string(key) else { return nil }
        guard let value = T(rawValue: raw) ?? aliases[raw] else {
            let known = (T.allCases.map(\.rawValue) + aliases.keys.sorted()).joined(separator: " | ")
            throw IntakeError(.invalidManifest, "\"\(path)\(key)\" must be one of \(known); found \"\(raw)\"")
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(
        _ key: String, default fallback: T, aliases: [String: T] = [:]
    ) throws(IntakeError) -> T where T.RawValue == String {
        try choice(key, aliases: aliases) ?? fallback
    }

    func number(_ key: String) throws(IntakeError) -> Double? {
        switch members[key] {
        case nil: return nil
        case .integer(let value): return Double(value)
        case .number(let value): return value
        case .some(let other): throw wrongType(key, "a number", other)
        }
    }

    func integer(_ key: String) throws(IntakeError) -> Int? {
        switch members[key] {
        case nil: return nil
        case .integer(let value): return Int(value)
        case .number(let value) where value.rounded() == value && abs(value) < 0x1p53: return Int(value)
        case .some(let other): throw wrongType(key, "an integer", other)
        }
    }

    func seed(_ key: String) throws(IntakeError) -> UInt64? {
        switch members[key] {
        case nil: return nil
        case .integer(let value) where value >= 0: return UInt64(value)
        case .some(let other): throw wrongType(key, "a non-negative integer", other)
        }
    }

    func bool(_ key: String) throws(IntakeError) -> Bool? {
        switch members[key] {
        case nil: return nil
        case .bool(let value): return value
        case .some(let other): throw wrongType(key, "true or false", other)
        }
    }

    func object(_ key: String) throws(IntakeError) -> ManifestObject? {
        switch members[key] {
        case nil: return nil
        case .object(let value): return ManifestObject(value, path: "\(path)\(key).")
        case .some(let other): throw wrongType(key, "an object", other)
        }
    }

    /// `{"task": ["label", ...]}`: non-empty, distinct, non-empty strings per task.
    func labels(_ key: String, default fallback: [String: [String]]) throws(IntakeError) -> [String: [String]] {
        guard let tasks = try object(key) else { return fallback }
        var labels: [String: [String]] = [:]
        for (task, value) in tasks.members {
            let name = "\(tasks.path)\(task)"
            if task.isEmpty { throw IntakeError(.invalidManifest, "\"\(key)\" has an empty task name") }
            guard case .array(let items) = value else { throw tasks.wrongType(task, "an array of label strings", value) }
            var seen: Set<String> = []
            var list: [String] = []
            for item in items {
                guard case .string(let label) = item, !label.isEmpty else {
                    throw IntakeError(.invalidManifest, "\"\(name)\" must hold non-empty strings; found \(item)")
                }
                guard seen.insert(label).inserted else {
                    throw IntakeError(.invalidManifest, "\"\(name)\" declares label \"\(label)\" twice")
                }
                list.append(label)
            }
            if list.isEmpty { throw IntakeError(.invalidManifest, "\"\(name)\" declares no labels") }
            labels[task] = list
        }
        return labels
    }
}

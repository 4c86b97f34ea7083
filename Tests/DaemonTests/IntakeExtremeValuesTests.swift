// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import AdapterKit
import Foundation
import Privacy
import Records
import Testing
import Training

/// Extreme manifests through the daemon's own intake path: `Manifest.parse`, then
/// `TrainingPlan(manifest:dataset:heldOutFraction:)` and the ledger's admission inside
/// `LedgerAdmissionPolicy.admit`.
///
/// All of it runs in the daemon process, where a trap (an overflow, `Int` of a non-finite
/// `Double`, an index out of range, a precondition) kills the daemon, and the file left in
/// `incoming/` kills it again at every start. Each case must end in a specific
/// ``IntakeError`` or in a sound admission: a finite, positive noise on every Gaussian, a
/// finite charge within the cap, and a plan that meets its own target. A trap shows as
/// this test process crashing.
@Suite struct IntakeExtremeValuesTests {
    /// What one extreme manifest must come to.
    enum Outcome: Sendable {
        case refused(IntakeError.Code, String)
        case admitted
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let manifest: String
        var forward = false
        var records = 200
        let outcome: Outcome
        var testDescription: String { name }
    }

    private static let rdp = #""epsilon": 2, "delta": 1e-5, "accountant": "rdp""#
    private static let train = #""epochs": 1, "expected_batch": 20"#

    /// The fixture's classification manifest with `privacy`, `train` and extra root members replaced.
    static func manifest(privacy: String = rdp, train: String = train, extra: String = "",
                         labels: String = #"{"sentiment": ["negative", "positive"]}"#) -> String {
        #"""
        {"account": "acme", "backbone": "tiny", "strategy": "lora", "labels": \#(labels),
         "privacy": {\#(privacy)}, "train": {\#(train)}\#(extra)}
        """#
    }

    private static func privacy(epsilon: String = "2", delta: String = "1e-5", accountant: String = "rdp") -> String {
        #""epsilon": \#(epsilon), "delta": \#(delta), "accountant": "\#(accountant)""#
    }

    private static func options(share: String) -> String {
        #", "strategy_options": {"label_epsilon_share": \#(share)}"#
    }

    // MARK: refused while parsing

    /// Out-of-range and mistyped values are refused by `Manifest.parse`, naming the key.
    static let parseCases: [Case] = {
        var cases: [Case] = []
        func refuse(_ name: String, _ manifest: String, _ fragment: String) {
            cases.append(Case(name: name, manifest: manifest, outcome: .refused(.invalidManifest, fragment)))
        }
        for value in ["0", "-0.0", "-1e308", "-5e-324", "\"Infinity\""] {
            refuse("privacy.epsilon \(value)", manifest(privacy: privacy(epsilon: value)), "privacy.epsilon")
        }
        // 1e400 is no Double: Foundation's decoder refuses it, naming the key.
        refuse("privacy.epsilon 1e400", manifest(privacy: privacy(epsilon: "1e400")), "privacy.epsilon")
        for value in ["0", "-0.0", "1", "1e308", "-5e-324"] {
            refuse("privacy.delta \(value)", manifest(privacy: privacy(delta: value)), "privacy.delta")
        }
        let hugeIntegers = ["0", "-1", "1.5", "1e30", "-1e30", "9223372036854775808", "-9223372036854775809",
                            "18446744073709551616", "\"3\"", "-0.0"]
        for key in ["epochs", "expected_batch", "max_len"] {
            for value in hugeIntegers {
                let train = switch key {
                case "epochs": #""epochs": \#(value), "expected_batch": 20"#
                case "expected_batch": #""epochs": 1, "expected_batch": \#(value)"#
                default: #""epochs": 1, "expected_batch": 20, "\#(key)": \#(value)"#
                }
                refuse("train.\(key) \(value)", manifest(train: train), "train.\(key)")
            }
        }
        refuse("train.max_len 7", manifest(train: train + #", "max_len": 7"#), "train.max_len")
        for key in ["lr", "clip"] {
            for value in ["0", "-0.0", "-5e-324", "-1e308", "1e400", "null"] {
                refuse("train.\(key) \(value)", manifest(train: train + #", "\#(key)": \#(value)"#), "train.\(key)")
            }
        }
        for value in ["-1", "1.5", "18446744073709551615", "1e19", "-9223372036854775808"] {
            refuse("train.seed \(value)", manifest(train: train + #", "seed": \#(value)"#), "train.seed")
        }
        for (name, labels, fragment) in [
            ("no labels", #"{"sentiment": []}"#, "declares no labels"),
            ("an empty label", #"{"sentiment": [""]}"#, "non-empty strings"),
            ("a nested label", #"{"sentiment": [["a"]]}"#, "non-empty strings"),
            ("a numeric label", #"{"sentiment": [1e308]}"#, "non-empty strings"),
            ("an empty task", #"{"": ["a", "b"]}"#, "empty task name"),
            ("no task", "{}", "\"labels\" is required"),
            ("labels as an array", #"[["a", "b"]]"#, "\"labels\" must be an object"),
        ] {
            refuse("labels: \(name)", manifest(labels: labels), fragment)
        }
        return cases
    }()

    @Test(arguments: parseCases)
    func refusedWhileParsing(_ testCase: Case) throws {
        let world = try DaemonWorld()
        let error = #expect(throws: IntakeError.self) {
            try Manifest.parse(Data(testCase.manifest.utf8), defaults: Self.defaults(world))
        }
        guard case .refused(let code, let fragment) = testCase.outcome else { return }
        #expect(error?.code == code)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }

    // MARK: through planning and admission

    /// Values that parse, so that planning, pricing and the ledger see them.
    static let admissionCases: [Case] = {
        var cases: [Case] = []
        let cannotBePlanned = Outcome.refused(.invalidManifest, "the job cannot be planned")
        let tooCostly = Outcome.refused(.budgetExhausted, "cannot afford")
        // ε: huge asks for next to no noise, which no account affords; a subnormal ε is met
        // by noise whose ε is 0 at the job's δ (the KL bound), and the ledger charges what
        // that noise really costs at the account's δ.
        cases.append(Case(name: "ε 1e308 (rdp)", manifest: manifest(privacy: privacy(epsilon: "1e308")), outcome: tooCostly))
        cases.append(Case(name: "ε max (rdp)", manifest: manifest(privacy: privacy(epsilon: "1.7976931348623157e308")),
                          outcome: tooCostly))
        // The PLD calibration takes the least noise it can price (its grid at its limit),
        // which meets any ε; no account affords what that noise costs.
        cases.append(Case(name: "ε max (prv)",
                          manifest: manifest(privacy: privacy(epsilon: "1.7976931348623157e308", accountant: "prv")),
                          outcome: tooCostly))
        for accountant in ["rdp", "prv"] {
            cases.append(Case(name: "ε 5e-324 (\(accountant))",
                              manifest: manifest(privacy: privacy(epsilon: "5e-324", accountant: accountant)), outcome: .admitted))
        }
        // δ: subnormal. RDP still certifies ε = 2 from its highest orders; the PLD's truncated
        // tail alone is above δ, so no noise meets it.
        cases.append(Case(name: "δ 5e-324 (rdp)", manifest: manifest(privacy: privacy(delta: "5e-324")), outcome: .admitted))
        cases.append(Case(name: "δ 5e-324 (prv)", manifest: manifest(privacy: privacy(delta: "5e-324", accountant: "prv")),
                          outcome: cannotBePlanned))
        // Epochs: the largest an Int64 holds overflows epochs × N; the largest a JSON
        // number holds exactly gives ~10^17 steps, which no noise up to 10^6 pays for.
        cases.append(Case(name: "epochs Int64.max", manifest: manifest(train: #""epochs": 9223372036854775807, "expected_batch": 20"#),
                          outcome: .refused(.invalidManifest, "more steps than can be counted")))
        for accountant in ["rdp", "prv"] {
            cases.append(Case(name: "epochs 2^53 − 1 (\(accountant))",
                              manifest: manifest(privacy: privacy(accountant: accountant),
                                                 train: #""epochs": 9007199254740991.0, "expected_batch": 20"#),
                              outcome: cannotBePlanned))
        }
        // A batch above N (the validator refuses it before admission; admission alone caps q at 1).
        cases.append(Case(name: "expected_batch Int64.max",
                          manifest: manifest(train: #""epochs": 1, "expected_batch": 9223372036854775807"#), outcome: .admitted))
        cases.append(Case(name: "one record", manifest: manifest(), records: 1, outcome: .admitted))
        // δ · N ≥ 1 for the N = 180 records left after the held-out split.
        cases.append(Case(name: "δ · N > 1", manifest: manifest(privacy: privacy(delta: "0.006")),
                          outcome: .refused(.deltaTooLarge, "must be in (0, 1/N)")))
        // Forward perturbation: the label share of ε must be in (0, 1); the ends of that
        // range leave one of the two releases with next to no ε, priced soundly.
        for share in ["1e308", "-0.0", "0", "1", "-5e-324", "1.0000000000000002"] {
            cases.append(Case(name: "label share \(share)", manifest: manifest(extra: options(share: share)), forward: true,
                              outcome: .refused(.invalidManifest, "label_epsilon_share must be in (0, 1)")))
        }
        cases.append(Case(name: "label share as a string", manifest: manifest(extra: options(share: #""0.5""#)), forward: true,
                          outcome: .refused(.invalidManifest, "label_epsilon_share must be a number")))
        for share in ["5e-324", "0.9999999999999999", "1e-300"] {
            cases.append(Case(name: "label share \(share)", manifest: manifest(extra: options(share: share)), forward: true,
                              outcome: .admitted))
        }
        cases.append(Case(name: "forward ε 1e308", manifest: manifest(privacy: privacy(epsilon: "1e308")), forward: true,
                          outcome: tooCostly))
        cases.append(Case(name: "forward ε 5e-324", manifest: manifest(privacy: privacy(epsilon: "5e-324")), forward: true,
                          outcome: .admitted))
        // Half of the smallest ε rounds to 0 for the representation, which has no analytic Gaussian.
        cases.append(Case(name: "forward ε 5e-324, share 0.5",
                          manifest: manifest(privacy: privacy(epsilon: "5e-324"), extra: options(share: "0.5")), forward: true,
                          outcome: .refused(.invalidManifest, "cannot be priced")))
        return cases
    }()

    @Test(arguments: admissionCases)
    func plannedAndAdmittedOrRefused(_ testCase: Case) throws {
        let world = try DaemonWorld()
        let manifest = try Manifest.parse(Data(testCase.manifest.utf8), defaults: Self.defaults(world))
        let dataset = DatasetSummary(
            sha256: String(repeating: "5a", count: 32), byteCount: 1_000, recordCount: testCase.records, unitCount: 0,
            taskCounts: ["sentiment": testCase.records], privacyUnitCount: testCase.records)
        let catalog = testCase.forward
            ? StrategyCatalog(ids: ["lora"], forwardLabelShares: ["lora": 0.25]) : StrategyCatalog(ids: ["lora"])
        let policy = try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: catalog, ledger: world.ledger,
                                               spoolName: "extreme.jsonl", heldOutFraction: 0.1, jobID: "job-x")
        switch testCase.outcome {
        case .refused(let code, let fragment):
            let error = #expect(throws: IntakeError.self) {
                try policy.admit(account: "acme", manifest: manifest, dataset: dataset)
            }
            #expect(error?.code == code, "\(error?.message ?? "no error")")
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
            #expect(try world.ledger.charges(account: "acme").isEmpty)
        case .admitted:
            try policy.admit(account: "acme", manifest: manifest, dataset: dataset)
            let granted = try #require(policy.admitted)
            let plan = granted.plan
            #expect(plan.steps >= 1)
            #expect(plan.samplingRate > 0 && plan.samplingRate <= 1)
            #expect(plan.noiseMultiplier.isFinite && plan.noiseMultiplier > 0)
            // The plan meets its own target by its own accountant.
            #expect(try plan.epsilon(of: plan.event).epsilon <= manifest.privacy.epsilon)
            let charge = try #require(try world.ledger.charges(account: "acme").first { $0.jobID == "job-x" })
            #expect(charge.epsilon.isFinite && charge.epsilon <= 20, "charged ε \(charge.epsilon)")
            #expect(charge.curve.allSatisfy { !$0.isNaN && $0 >= 0 })
            Self.expectSound(charge.event)
        }
    }

    /// Every Gaussian of `event` has finite, positive noise; every probability and
    /// randomized response's ε is a number in range.
    static func expectSound(_ event: DpEvent, sourceLocation: SourceLocation = #_sourceLocation) {
        switch event {
        case .gaussian(let sigma):
            #expect(sigma.isFinite && sigma > 0, "σ = \(sigma) in a charged event", sourceLocation: sourceLocation)
        case .poissonSampled(let q, let inner):
            #expect(q > 0 && q <= 1, "q = \(q) in a charged event", sourceLocation: sourceLocation)
            expectSound(inner, sourceLocation: sourceLocation)
        case .selfComposed(let inner, let count):
            #expect(count >= 1, sourceLocation: sourceLocation)
            expectSound(inner, sourceLocation: sourceLocation)
        case .composed(let events):
            for inner in events { expectSound(inner, sourceLocation: sourceLocation) }
        case .randomizedResponse(let k, let epsilon):
            #expect(k >= 1 && epsilon.isFinite && epsilon >= 0, "k = \(k), ε = \(epsilon) in a charged event",
                    sourceLocation: sourceLocation)
        case .noOp, .nonPrivate, .unsupported:
            Issue.record("a charged event holds \(event)", sourceLocation: sourceLocation)
        }
    }

    /// An admitted extreme goes through the rest of intake: the job record is written and
    /// read back, and the manifest it keeps parses back to the one admitted under other
    /// defaults, as the worker reads it (subnormal and largest doubles, the largest seed).
    @Test(arguments: [
        Self.privacy(epsilon: "5e-324"), Self.privacy(delta: "5e-324"), Self.privacy(epsilon: "5e-324", accountant: "prv"),
    ])
    func anAdmittedExtremeIsQueuedAndReadBack(privacy: String) async throws {
        let world = try DaemonWorld()
        let text = Self.manifest(
            privacy: privacy,
            train: Self.train + #", "lr": 5e-324, "clip": 1.7976931348623157e308, "seed": 9223372036854775807"#)
        try world.fixture.drop("extreme", manifest: text)
        let job = try #require(await world.intake.process("extreme.jsonl"))
        #expect(job.noiseMultiplier.isFinite && job.noiseMultiplier > 0)
        let reopened = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        let reloaded = try #require(await reopened.job(id: job.id))
        #expect(reloaded.noiseMultiplier == job.noiseMultiplier)
        var otherDefaults = world.fixture.config.defaults
        otherDefaults.account = "poor"
        let admitted = try Manifest.parse(Data(try #require(reloaded.admittedManifest).utf8), defaults: otherDefaults)
        #expect(admitted == (try Manifest.parse(Data(text.utf8), defaults: Self.defaults(world))))
    }

    // MARK: deeply nested JSON

    /// `strategy_options` with `count` values, each arrays nested `depth` deep.
    static func nestedManifest(depth: Int, count: Int = 1) -> String {
        let one = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        return manifest(extra: #", "strategy_options": {"x": [\#(Array(repeating: one, count: count).joined(separator: ","))]}"#)
    }

    /// Decoding a manifest costs about the cube of its nesting depth: 25 values nested 500
    /// deep (25 kB; Foundation's parser allows 512) took half a minute, a 1 MiB manifest of
    /// them some twenty, all inside the daemon's intake, again at every start. Such a
    /// manifest is refused before it is decoded.
    @Test func aDeeplyNestedManifestIsRefusedAtOnce() throws {
        let world = try DaemonWorld()
        let text = Self.nestedManifest(depth: 500, count: 25)
        let start = ContinuousClock.now
        let error = #expect(throws: IntakeError.self) {
            try Manifest.parse(Data(text.utf8), defaults: Self.defaults(world))
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains("more than \(JSONValue.maximumDepth) levels deep") == true,
                "\(error?.message ?? "no error")")
        // Just past the limit, where the decoder alone would still be quick.
        let past = #expect(throws: IntakeError.self) {
            try Manifest.parse(Data(Self.nestedManifest(depth: JSONValue.maximumDepth - 2).utf8), defaults: Self.defaults(world))
        }
        #expect(past?.message.contains("levels deep") == true, "\(past?.message ?? "no error")")
    }

    /// A value costs more the deeper it sits, so the limit also bounds a wide manifest:
    /// 1 MiB of `{}` at 32 levels (the former limit) took 19.7 s of CPU in `dptuned`, 2.5 s
    /// at 8. Objects at 9 levels are refused, however few; a manifest needs 3.
    @Test func aWideManifestPastEightLevelsIsRefused() throws {
        let world = try DaemonWorld()
        // Root (1), strategy_options (2), the list around the values (3), 5 more, objects at 9.
        let objects = Array(repeating: "{}", count: 10_000).joined(separator: ",")
        let wide = Self.manifest(extra: #", "strategy_options": {"x": [[[[[[\#(objects)]]]]]]}"#)
        let error = #expect(throws: IntakeError.self) {
            try Manifest.parse(Data(wide.utf8), defaults: Self.defaults(world))
        }
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains("more than 8 levels deep") == true, "\(error?.message ?? "no error")")
    }

    /// The limit counts brackets, not text: the root, `strategy_options` and its value's
    /// own brackets at exactly the limit parse, and brackets inside strings do not count.
    @Test func nestingUpToTheLimitAndBracketsInStringsParse() throws {
        let world = try DaemonWorld()
        // Root (1), strategy_options (2), the list around the values (3), then depth − 3 levels.
        let atLimit = try Manifest.parse(Data(Self.nestedManifest(depth: JSONValue.maximumDepth - 3).utf8),
                                         defaults: Self.defaults(world))
        #expect(atLimit.strategyOptions["x"] != nil)
        let brackets = String(repeating: "[{", count: 200) + #"\"\\"# + String(repeating: "}]", count: 200)
        let labelled = try Manifest.parse(
            Data(Self.manifest(labels: #"{"sentiment": ["\#(brackets)", "b"]}"#).utf8), defaults: Self.defaults(world))
        #expect(labelled.labels["sentiment"]?.first?.hasPrefix("[{[{") == true)
    }

    /// The same manifest dropped into the spool is rejected with its reason, and intake goes on.
    @Test func aDeeplyNestedManifestInTheSpoolIsRejected() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("deep", manifest: Self.nestedManifest(depth: 500, count: 25))
        #expect(await world.intake.process("deep.jsonl") == nil)
        #expect(try world.fixture.errorCode(of: "deep") == "invalid_manifest")
        try world.fixture.drop("fine", manifest: DaemonFixture.manifest(account: "acme"))
        #expect(await world.intake.process("fine.jsonl") != nil)
    }

    private static func defaults(_ world: DaemonWorld) -> ManifestDefaults {
        var defaults = world.fixture.config.defaults
        defaults.account = "acme"
        return defaults
    }
}

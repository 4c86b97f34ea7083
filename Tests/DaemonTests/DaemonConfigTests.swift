// SPDX-License-Identifier: Apache-2.0
import Daemon
import Foundation
import Records
import Testing

@Suite struct DaemonConfigTests {
    static let shippedFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("etc/dptune/dptuned.toml")

    @Test func shippedFileHasTheDocumentedDefaults() throws {
        let config = try DaemonConfig(contentsOf: Self.shippedFile)
        #expect(config.paths.ledger.path == "/var/lib/dptune/ledger.sqlite")
        #expect(config.control.path == "/run/dptune/control.sock")
        #expect(config.control.adminGroup == "dptune-admin")
        #expect(config.control.requestTimeout == .seconds(30))
        #expect(config.control.maxConnections == 64)
        #expect(config.scheduler.workers == 1)
        #expect(config.scheduler.threadsPerWorker == 2)
        #expect(config.defaults.backbone == "minilm-l6")
        #expect(config.defaults.strategy == "lora")
        #expect(config.defaults.objective == .classify)
        #expect(config.defaults.privacy.epsilon == 8)
        #expect(config.defaults.privacy.delta == 1e-5)
        #expect(config.defaults.privacy.accountant == .prv)
        #expect(config.defaults.train.expectedBatch == 64)
        #expect(config.defaults.train.seed == 7)
        #expect(config.defaults.train.headInit == .random)
        #expect(config.defaults.train.instruction == .encode)
        #expect(config.heldOutFraction == 0.1)
        #expect(config.models["minilm-l6"]?.path == "/var/lib/dptune/models/all-MiniLM-L6-v2")
    }

    /// A `[defaults.train]` table holding only `line`.
    func trainDefaults(_ line: String) throws -> DaemonConfig {
        try DaemonConfig(parsing: "[defaults.train]\n\(line)\n", path: "t.toml", baseDirectory: URL(fileURLWithPath: "/"))
    }

    @Test func trainChoicesAreRead() throws {
        #expect(try trainDefaults(#"head_init = "label_names""#).defaults.train.headInit == .labelNames)
        #expect(try trainDefaults(#"instruction = "omit""#).defaults.train.instruction == .omit)
    }

    /// No account is assumed unless the operator names one; a named one fills manifests that
    /// leave it out, as any other default does.
    @Test func aDefaultAccountOnlyWhenTheOperatorNamesOne() throws {
        let base = URL(fileURLWithPath: "/srv/dptune/etc")
        #expect(try DaemonConfig(parsing: "", path: "t.toml", baseDirectory: base).defaults.account == nil)
        let named = try DaemonConfig(parsing: "[defaults]\naccount = \"research\"\n", path: "t.toml", baseDirectory: base)
        #expect(named.defaults.account == "research")
        let manifest = try Manifest.parse(Data(#"{"objective": "generate", "backbone": "llm", "strategy": "lora"}"#.utf8),
                                          defaults: named.defaults)
        #expect(manifest.account == "research")
    }

    /// A config without `[defaults]` fills manifests as `dptuned train --backbone DIR` does
    /// without a config: the seed was 7 here and 0 there.
    @Test func anEmptyConfigDefaultsAsTheBuiltInDefaults() throws {
        let config = try DaemonConfig(parsing: "", path: "t.toml", baseDirectory: URL(fileURLWithPath: "/"))
        let builtIn = ManifestDefaults()
        #expect(config.defaults.objective == builtIn.objective)
        #expect(config.defaults.privacy == builtIn.privacy)
        #expect(config.defaults.train == builtIn.train)
        #expect(builtIn.train.seed == 7)
    }

    @Test(arguments: [#"head_init = "zeros""#, #"instruction = "drop""#])
    func unknownTrainChoicesAreRefused(line: String) {
        #expect(throws: (any Error).self) { try trainDefaults(line) }
    }

    @Test func relativePathsResolveAgainstTheFilesDirectory() throws {
        let source = """
            [paths]
            spool = "spool"
            ledger = "../state/ledger.sqlite"
            [models]
            tiny = "models/tiny"
            """
        let config = try DaemonConfig(parsing: source, path: "t.toml", baseDirectory: URL(fileURLWithPath: "/srv/dptune/etc"))
        #expect(config.paths.spool.path == "/srv/dptune/etc/spool")
        #expect(config.paths.ledger.path == "/srv/dptune/state/ledger.sqlite")
        // A model's directory resolves against paths.models, where backbones live.
        #expect(config.paths.models.path == "/var/lib/dptune/models")
        #expect(config.models["tiny"]?.path == "/var/lib/dptune/models/models/tiny")
        let placed = try DaemonConfig(parsing: source.replacingOccurrences(of: "[models]", with: "models = \"backbones\"\n[models]"),
                                      path: "t.toml", baseDirectory: URL(fileURLWithPath: "/srv/dptune/etc"))
        #expect(placed.models["tiny"]?.path == "/srv/dptune/etc/backbones/models/tiny")
        let absolute = try DaemonConfig(parsing: source.replacingOccurrences(of: "\"models/tiny\"", with: "\"/opt/tiny\""),
                                        path: "t.toml", baseDirectory: URL(fileURLWithPath: "/srv/dptune/etc"))
        #expect(absolute.models["tiny"]?.path == "/opt/tiny")
        #expect(config.defaults.train.epochs == 3)
        #expect(config.defaults.privacy.accountant == .prv)
    }

    @Test(arguments: [
        ("[paths]\nspool = \"s\"\nspoll = \"t\"\n", 3, "paths.spoll"),
        ("[scheduler]\n\nworkers = 0\n", 3, "scheduler.workers"),
        ("[control]\nmax_connections = 0\n", 2, "control.max_connections"),
        ("[defaults.privacy]\nepsilon = 8\naccountant = \"moments\"\n", 3, "defaults.privacy.accountant"),
        ("[defaults.train]\nexpected_batch = \"64\"\n", 2, "defaults.train.expected_batch"),
        ("colour = 1\n", 1, "colour"),
        ("[defaults]\nheld_out_fraction = 1.5\n", 2, "defaults.held_out_fraction"),
    ])
    func refusesWithTheLine(source: String, line: Int, key: String) {
        do {
            _ = try DaemonConfig(parsing: source, path: "bad.toml", baseDirectory: URL(fileURLWithPath: "/"))
            Issue.record("accepted \(source.debugDescription)")
        } catch {
            #expect(error.code == .invalid)
            #expect(error.sourceLine == line)
            #expect(error.message.contains("bad.toml:\(line):"))
            #expect(error.message.contains(key))
        }
    }

    @Test func syntaxErrorsNameTheLine() {
        do {
            _ = try DaemonConfig(parsing: "[paths]\nspool = \n", path: "bad.toml", baseDirectory: URL(fileURLWithPath: "/"))
            Issue.record("accepted a syntax error")
        } catch {
            #expect(error.sourceLine == 2)
        }
    }

    @Test func missingFileIsUnreadable() {
        #expect(throws: DaemonConfigError(.unreadable, "")) {
            try DaemonConfig(contentsOf: URL(fileURLWithPath: "/nonexistent/dptuned.toml"))
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
import Daemon
import Foundation
import Testing
import TestSupport

/// `scripts/install` run into a temporary root, as a packager would: the tree it lays out,
/// the unit it rewrites, the configuration it keeps, the RUNPATHs it sets, and that the
/// installed programs run with nothing but the installed tree on the library path.
///
/// The script installs the products of the build running these tests (`--from-build`): a
/// nested `swift build` would wait on this build's lock.
@Suite(.serialized) struct InstallScriptTests {
    /// The outcome of one command.
    struct Outcome: Sendable {
        let status: Int32
        let output: String
        let errors: String
    }

    /// The checkout holding this file (`Tests/DaemonTests/InstallScriptTests.swift`).
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `env -i PATH=/usr/bin:/bin`: no toolchain on the path or the library path.
    static let cleanEnvironment = ["PATH": "/usr/bin:/bin"]

    static let privacyArguments = [
        "privacy", "epsilon", "--sampling-rate", "0.01", "--noise-multiplier", "1", "--steps", "100", "--delta", "1e-5",
    ]

    /// Runs `executable` to completion. Output goes to files, so a chatty child never blocks
    /// on a full pipe.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Outcome {
        let scratch = try TemporaryDirectory(prefix: "dptune-install-output")
        let outputFile = URL(fileURLWithPath: try scratch.write("stdout", ""))
        let errorFile = URL(fileURLWithPath: try scratch.write("stderr", ""))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            output: try String(contentsOf: outputFile, encoding: .utf8),
            errors: try String(contentsOf: errorFile, encoding: .utf8))
    }

    /// Runs `scripts/install` of `checkout` on this build, off the cooperative pool (it takes
    /// seconds).
    static func install(checkout: URL, root: String, prefix: String?) async throws -> Outcome {
        let arguments = ["--from-build", BuildProducts.directory.path, "--root", root]
            + (prefix.map { ["--prefix", $0] } ?? [])
        let script = checkout.appendingPathComponent("scripts/install").path
        return try await onOwnThread { try run(script, arguments) }
    }

    /// The script needs patchelf; a machine without it has not run scripts/bootstrap.
    static func requirePatchelf() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let found = path.split(separator: ":").contains { directory in
            FileManager.default.isExecutableFile(atPath: "\(directory)/patchelf")
        }
        try #require(found, "patchelf is not installed: run scripts/bootstrap")
    }

    /// The DT_RUNPATH of an ELF file, or nil if it has none; fails the test on a DT_RPATH,
    /// which would take precedence over LD_LIBRARY_PATH.
    static func runpath(of file: String) throws -> String? {
        let dynamic = try run("/usr/bin/env", ["readelf", "-d", file])
        try #require(dynamic.status == 0, "readelf -d \(file): \(dynamic.errors)")
        #expect(!dynamic.output.contains("(RPATH)"), "\(file) has a DT_RPATH")
        guard let line = dynamic.output.split(separator: "\n").first(where: { $0.contains("(RUNPATH)") }),
              let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]")
        else { return nil }
        return String(line[line.index(after: open)..<close])
    }

    /// Checks, with a clean environment, that every library `file` loads resolves, and that
    /// those bundled in `libraryDirectory` resolve there (not to the toolchain).
    static func expectSelfContained(_ file: String, libraryDirectory: String) throws {
        let bundled = Set(try FileManager.default.contentsOfDirectory(atPath: libraryDirectory))
        let dependencies = try run("/usr/bin/ldd", [file], environment: cleanEnvironment)
        try #require(dependencies.status == 0, "ldd \(file): \(dependencies.errors)")
        for line in dependencies.output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            #expect(!line.contains("not found"), "\(file): \(line)")
            guard fields.count >= 3, fields[1] == "=>", bundled.contains(String(fields[0])) else { continue }
            let resolved = URL(fileURLWithPath: String(fields[2])).resolvingSymlinksInPath().path
            let expected = URL(fileURLWithPath: "\(libraryDirectory)/\(fields[0])").resolvingSymlinksInPath().path
            #expect(resolved == expected, "\(file) loads \(fields[0]) from \(resolved)")
        }
    }

    @Test func installsATreeThatRunsWithoutTheToolchain() async throws {
        try Self.requirePatchelf()
        let root = try TemporaryDirectory(prefix: "dptune-install-root")
        try FileManager.default.createDirectory(
            at: root.url.appendingPathComponent("etc/dptune"), withIntermediateDirectories: true)
        let ownAccounts = "# the administrator's own budgets\n"
        try root.write("etc/dptune/accounts.toml", ownAccounts)

        let result = try await Self.install(checkout: Self.repository, root: root.path, prefix: "/usr")
        try #require(result.status == 0, "scripts/install failed: \(result.errors)")

        let prefix = root.path + "/usr"
        let libraries = prefix + "/lib/dptune"
        for file in [
            "bin/dptuned", "bin/dptunectl", "lib/dptune/libDPTuneKit.so", "lib/dptune/libswiftCore.so",
            "lib/dptune/libFoundation.so", "lib/dptune/libdispatch.so", "lib/systemd/system/dptuned.service",
            "lib/systemd/system/dptuned.socket", "lib/tmpfiles.d/dptune.conf", "lib/sysusers.d/dptune.conf",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "\(file) not installed")
            #expect(result.output.contains("installed \(prefix)/\(file)\n"), "\(file) not reported")
        }

        // The example configuration is installed, an administrator's own file is kept.
        let config = try String(contentsOfFile: root.path + "/etc/dptune/dptuned.toml", encoding: .utf8)
        let shippedConfig = try String(
            contentsOf: Self.repository.appendingPathComponent("etc/dptune/dptuned.toml"), encoding: .utf8)
        #expect(config == shippedConfig)
        let accounts = try String(contentsOfFile: root.path + "/etc/dptune/accounts.toml", encoding: .utf8)
        #expect(accounts == ownAccounts)
        #expect(result.output.contains("kept existing \(root.path)/etc/dptune/accounts.toml"))

        // Only ExecStart= changes, to the installed daemon.
        let unit = try String(contentsOfFile: prefix + "/lib/systemd/system/dptuned.service", encoding: .utf8)
        let shippedUnit = try String(
            contentsOf: Self.repository.appendingPathComponent("systemd/dptuned.service"), encoding: .utf8)
        let execStart = unit.split(separator: "\n").filter { $0.hasPrefix("ExecStart=") }
        #expect(execStart == ["ExecStart=/usr/bin/dptuned --config /etc/dptune/dptuned.toml"])
        #expect(unit.split(separator: "\n").filter { !$0.hasPrefix("ExecStart=") }
            == shippedUnit.split(separator: "\n").filter { !$0.hasPrefix("ExecStart=") })

        // RUNPATHs: executables look in lib/dptune, libraries beside themselves, plugins one up.
        #expect(try Self.runpath(of: prefix + "/bin/dptuned") == "$ORIGIN/../lib/dptune")
        #expect(try Self.runpath(of: prefix + "/bin/dptunectl") == "$ORIGIN/../lib/dptune")
        #expect(try Self.runpath(of: libraries + "/libDPTuneKit.so") == "$ORIGIN")
        let bundled = try FileManager.default.contentsOfDirectory(atPath: libraries).filter { $0.hasSuffix(".so") }
        for library in bundled {
            let path = "\(libraries)/\(library)"
            #expect([nil, "$ORIGIN"].contains(try Self.runpath(of: path)), "\(library)")
            try Self.expectSelfContained(path, libraryDirectory: libraries)
        }

        // Exactly the plugins of Plugins/, none of the test fixtures.
        let pluginSources = Self.repository.appendingPathComponent("Plugins")
        let pluginNames = ((try? FileManager.default.contentsOfDirectory(atPath: pluginSources.path)) ?? [])
            .filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(
                    atPath: pluginSources.appendingPathComponent(name).path, isDirectory: &isDirectory)
                    && isDirectory.boolValue
            }
        let installedPlugins = try FileManager.default.contentsOfDirectory(atPath: libraries + "/plugins")
        #expect(Set(installedPlugins) == Set(pluginNames.map { "lib\($0).so" }))
        for plugin in installedPlugins {
            let path = "\(libraries)/plugins/\(plugin)"
            #expect(try Self.runpath(of: path) == "$ORIGIN/..", "\(plugin)")
            try Self.expectSelfContained(path, libraryDirectory: libraries)
        }

        try Self.expectSelfContained(prefix + "/bin/dptuned", libraryDirectory: libraries)
        try Self.expectSelfContained(prefix + "/bin/dptunectl", libraryDirectory: libraries)
        let help = try Self.run(prefix + "/bin/dptunectl", ["--help"], environment: Self.cleanEnvironment)
        #expect(help.status == 0, "\(help.errors)")
        #expect(help.output.contains("USAGE: dptunectl"))
        let epsilon = try Self.run(prefix + "/bin/dptunectl", Self.privacyArguments, environment: Self.cleanEnvironment)
        #expect(epsilon.status == 0, "\(epsilon.errors)")
        #expect(epsilon.output.hasPrefix("epsilon "))
        #expect(epsilon.output == (try ProductExecutable("dptunectl").run(Self.privacyArguments)).standardOutput)
    }

    /// The plugin mechanism on a copy of the checkout whose Plugins/ names a test fixture
    /// (the real strategies may not exist yet): installed beside the daemon, loadable by the
    /// installed daemon without the toolchain; a plugin that was not built refuses the install.
    @Test func installsThePluginsOfPluginsAndRefusesOneNotBuilt() async throws {
        try Self.requirePatchelf()
        let checkout = try TemporaryDirectory(prefix: "dptune-install-checkout")
        let files = FileManager.default
        try files.createDirectory(
            at: checkout.url.appendingPathComponent("scripts"), withIntermediateDirectories: true)
        for item in ["scripts/install", "systemd", "etc"] {
            try files.copyItem(
                at: Self.repository.appendingPathComponent(item), to: checkout.url.appendingPathComponent(item))
        }
        for plugin in ["EchoV1", "NotBuilt"] {
            try files.createDirectory(
                at: checkout.url.appendingPathComponent("Plugins/\(plugin)"), withIntermediateDirectories: true)
        }
        let root = try TemporaryDirectory(prefix: "dptune-install-root")

        let refused = try await Self.install(checkout: checkout.url, root: root.path, prefix: nil)
        #expect(refused.status == 1)
        #expect(refused.output.isEmpty, "installed something before refusing: \(refused.output)")
        let message = refused.errors.split(separator: "\n")
        #expect(message.count == 1 && message[0].contains("Plugins/NotBuilt was not built"), "\(refused.errors)")

        try files.removeItem(at: checkout.url.appendingPathComponent("Plugins/NotBuilt"))
        let result = try await Self.install(checkout: checkout.url, root: root.path, prefix: nil)
        try #require(result.status == 0, "scripts/install failed: \(result.errors)")

        // The default prefix, and the note that the shipped configuration looks elsewhere.
        let prefix = root.path + "/usr/local"
        let libraries = prefix + "/lib/dptune"
        let unit = try String(contentsOfFile: prefix + "/lib/systemd/system/dptuned.service", encoding: .utf8)
        #expect(unit.contains("\nExecStart=/usr/local/bin/dptuned --config /etc/dptune/dptuned.toml\n"))
        #expect(result.errors.contains(
            "reads plugins from /usr/lib/dptune/plugins, but they were installed in /usr/local/lib/dptune/plugins"))

        #expect(try files.contentsOfDirectory(atPath: libraries + "/plugins") == ["libEchoV1.so"])
        let plugin = libraries + "/plugins/libEchoV1.so"
        #expect(try Self.runpath(of: plugin) == "$ORIGIN/..")
        try Self.expectSelfContained(plugin, libraryDirectory: libraries)

        let staging = try TemporaryDirectory(prefix: "dptune-install-staging")
        let probe = try await onOwnThread {
            try Self.run(prefix + "/bin/dptuned", ["plugin", "probe", "--staging", staging.path, plugin],
                         environment: Self.cleanEnvironment)
        }
        #expect(probe.status == 0, "\(probe.errors)")
        #expect(probe.output.contains("\"id\":\"echo\""), "\(probe.output)")
    }
}

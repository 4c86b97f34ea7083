// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Daemon
import Foundation
import Testing
import TestSupport

@Suite struct PluginProbeTests {
    private let staging = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)")

    private func probe(_ library: String) async throws -> Result<PluginDescription, PluginRefusal> {
        try await PluginProbe.probe(file: BuildProducts.library(library), executable: BuildProducts.executable("dptuned"),
                                stagingDirectory: staging)
    }

    @Test func describesAValidPlugin() async throws {
        let description = try await probe("EchoV2").get()
        #expect(description.id == "echo")
        #expect(description.version == "2.0.0")
        #expect(description.abiVersion == adapterKitABIVersion)
        #expect(description.path == BuildProducts.library("EchoV2").path)
    }

    @Test func reportsEachRefusalWithItsCode() async throws {
        for (library, code) in [("WrongABI", "abi_mismatch"), ("NoEntry", "missing_symbol"), ("NotAStrategy", "not_a_strategy")] {
            guard case .failure(let refusal) = try await probe(library) else {
                Issue.record("\(library) was accepted")
                continue
            }
            #expect(refusal.code == code, "\(library)")
        }
    }

    @Test func aMissingFileIsRefusedNotFatal() async throws {
        let result = try await PluginProbe.probe(file: URL(fileURLWithPath: "/nonexistent/plugin.so"),
                                             executable: BuildProducts.executable("dptuned"), stagingDirectory: staging)
        guard case .failure(let refusal) = result else { Issue.record("accepted a missing file"); return }
        #expect(refusal.code == "unreadable" || refusal.code == "not_a_plugin")
    }
}

@Suite struct PluginProbeCrashTests {
    /// A plugin that traps in its entry point kills only the probe child.
    @Test func aCrashingPluginIsRefusedAndWeLive() async throws {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)")
        let result = try await PluginProbe.probe(file: BuildProducts.library("CrashingEntry"),
                                             executable: BuildProducts.executable("dptuned"), stagingDirectory: staging)
        guard case .failure(let refusal) = result else { Issue.record("a crashing plugin was accepted"); return }
        #expect(refusal.code == "probe_crashed")
    }
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Testing
import TestSupport

@Suite struct PluginLoaderTests {
    private func makeLoader() throws -> PluginLoader {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        return try PluginLoader(stagingDirectory: staging)
    }

    /// Two builds of one strategy live side by side, each answering with its own version,
    /// and loading a build a second time is refused as a duplicate.
    @Test func holdsTwoBuildsOfOnePlugin() throws {
        let loader = try makeLoader()
        let v1 = try loader.load(BuildProducts.library("EchoV1"))
        let v2 = try loader.load(BuildProducts.library("EchoV2"))
        #expect(v1.strategy.id == "echo" && v2.strategy.id == "echo")
        #expect(v1.strategy.version == "1.0.0")
        #expect(v2.strategy.version == "2.0.0")
        #expect(Set(loader.plugins.keys) == ["echo@1.0.0", "echo@2.0.0"])
        #expect(v1.path == BuildProducts.library("EchoV1").path)

        let error = try #require(throws: PluginLoadError.self) { try loader.load(BuildProducts.library("EchoV1")) }
        #expect(error.code == .duplicate)
        #expect(error.message.contains("echo@1.0.0"))
    }

    /// The staging copies are removed once mapped; nothing accumulates per load.
    @Test func stagingCopiesAreRemoved() throws {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        let loader = try PluginLoader(stagingDirectory: staging)
        _ = try loader.load(BuildProducts.library("EchoV1"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: staging.path).isEmpty)
    }

    @Test func refusesWrongABIBeforeLoading() throws {
        let error = try #require(throws: PluginLoadError.self) { try makeLoader().load(BuildProducts.library("WrongABI")) }
        #expect(error.code == .abiMismatch)
        #expect(error.message.contains("999"))
    }

    @Test func refusesMissingEntryPoint() throws {
        let error = try #require(throws: PluginLoadError.self) { try makeLoader().load(BuildProducts.library("NoEntry")) }
        #expect(error.code == .missingSymbol)
        #expect(error.message.contains("dptune_plugin_entry"))
    }

    @Test func refusesAnEntryThatIsNotAStrategy() throws {
        let error = try #require(throws: PluginLoadError.self) { try makeLoader().load(BuildProducts.library("NotAStrategy")) }
        #expect(error.code == .notAStrategy)
    }

    /// A shared object without the note (the C library) and a text file are not plugins.
    @Test func refusesFilesThatAreNotPlugins() throws {
        let libc = try #require(["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
            .first { FileManager.default.fileExists(atPath: $0) })
        let noNote = try #require(throws: PluginLoadError.self) { try PluginLoader.inspect(URL(fileURLWithPath: libc)) }
        #expect(noNote.code == .notAPlugin)

        let text = FileManager.default.temporaryDirectory.appendingPathComponent("fake-\(UUID().uuidString).so")
        try Data("not an ELF file".utf8).write(to: text)
        let notELF = try #require(throws: PluginLoadError.self) { try PluginLoader.inspect(text) }
        #expect(notELF.code == .notAPlugin)
        #expect(notELF.message.contains("ELF"))
    }

    /// A truncated copy of a real plugin is refused without crashing the reader.
    @Test func refusesTruncatedPlugin() throws {
        let whole = try Data(contentsOf: BuildProducts.library("EchoV1"))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID().uuidString).so")
        try whole.prefix(whole.count / 2).write(to: cut)
        let error = try #require(throws: PluginLoadError.self) { try PluginLoader.inspect(cut) }
        #expect(error.code == .notAPlugin)
    }
}

@Suite struct PluginToolchainTests {
    /// A copy of a real plugin whose `.comment` names another swiftlang LLVM commit must be
    /// refused: Swift has no stable ABI between toolchain builds on Linux.
    @Test func refusesAnotherToolchain() throws {
        var bytes = [UInt8](try Data(contentsOf: BuildProducts.library("EchoV1")))
        let marker = Array("swiftlang/llvm-project.git ".utf8)
        // The identity also appears in debug info; change the commit hash everywhere.
        let starts = (0...(bytes.count - marker.count)).filter { bytes[$0] == marker[0] && Array(bytes[$0..<($0 + marker.count)]) == marker }
        #expect(!starts.isEmpty)
        for start in starts {
            let digit = start + marker.count
            bytes[digit] = bytes[digit] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        }
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("other-\(UUID().uuidString).so")
        try Data(bytes).write(to: other)
        let error = try #require(throws: PluginLoadError.self) { try PluginLoader.inspect(other) }
        #expect(error.code == .toolchainMismatch)
    }
}

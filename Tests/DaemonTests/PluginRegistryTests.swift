// SPDX-License-Identifier: Apache-2.0
import Daemon
import Foundation
import Synchronization
import Testing
import TestSupport

@Suite struct PluginRegistryTests {
    private let root = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
    private var pluginDirectory: URL { root.appendingPathComponent("plugins") }

    private func makeRegistry(maxPluginBytes: Int = 64 << 20) throws -> PluginRegistry {
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        return try PluginRegistry(pluginDirectory: pluginDirectory, stateDirectory: root.appendingPathComponent("state"),
                                  probeExecutable: BuildProducts.executable("dptuned"), maxPluginBytes: maxPluginBytes)
    }

    /// The refusal reason listed for the file `name` in the plugin directory, if refused.
    private func refusal(of name: String, in registry: PluginRegistry) async -> String? {
        let path = pluginDirectory.appendingPathComponent(name).path
        return await registry.listing().first { $0.state == .refused && $0.file == path }?.reason
    }

    /// Drops a build into the plugin directory the way operators should: copy, then rename.
    private func install(_ library: String, as name: String) throws -> URL {
        let staged = root.appendingPathComponent(".\(name).tmp")
        try? FileManager.default.removeItem(at: staged)
        try FileManager.default.copyItem(at: BuildProducts.library(library), to: staged)
        let target = pluginDirectory.appendingPathComponent(name)
        _ = rename(staged.path, target.path)
        return target
    }

    /// A rebuilt plugin replaces the current version for new jobs, while a running job
    /// keeps the version it started with, and can still load it after the file changed.
    @Test func hotSwapKeepsRunningJobsOnTheirVersion() async throws {
        let registry = try makeRegistry()
        let file = try install("EchoV1", as: "libecho.so")
        await registry.scan()
        let old = try #require(await registry.acquire(strategy: "echo", job: "job-1"))
        #expect(old.description.version == "1.0.0")
        #expect(await registry.catalog.optionSchemas == ["echo": []])

        _ = try install("EchoV2", as: "libecho.so")
        await registry.fileChanged(file)
        let new = try #require(await registry.acquire(strategy: "echo", job: "job-2"))
        #expect(new.description.version == "2.0.0")
        // Intake checks a new job's options against the build it will run.
        #expect(await registry.catalog.optionSchemas["echo"]?.map(\.name) == ["gain"])

        // The running job's stored copy is intact and still the old build.
        let stillOld = try await PluginProbe.probe(file: old.storedFile, executable: BuildProducts.executable("dptuned"),
                                               stagingDirectory: root.appendingPathComponent("probe"))
        #expect(try stillOld.get().version == "1.0.0")

        let rows = await registry.listing()
        #expect(rows.contains { $0.state == .current && $0.version == "2.0.0" && $0.jobs == ["job-2"] })
        #expect(rows.contains { $0.state == .retired && $0.version == "1.0.0" && $0.jobs == ["job-1"] })

        await registry.release(job: "job-1")
        let after = await registry.listing()
        #expect(!after.contains { $0.state == .retired })
    }

    /// A swap undone, and a duplicate moved away, leave no refusal listed: the stress audit
    /// saw a current build's file listed as refused beside its own current row, and a file
    /// long gone, until a restart.
    @Test func aScanListsOnlyWhatTheDirectoryHoldsNow() async throws {
        let registry = try makeRegistry()
        _ = try install("EchoV1", as: "libecho.so")
        await registry.scan()
        _ = try install("EchoV1", as: "libecho-copy.so")
        _ = try install("NoEntry", as: "libecho.so")
        await registry.scan()
        #expect(await refusal(of: "libecho-copy.so", in: registry)?.hasPrefix("duplicate") == true)
        #expect(await refusal(of: "libecho.so", in: registry) != nil)

        try FileManager.default.removeItem(at: pluginDirectory.appendingPathComponent("libecho-copy.so"))
        _ = try install("EchoV1", as: "libecho.so")
        await registry.scan()
        let listing = await registry.listing()
        #expect(listing.map(\.state) == [.current], "\(listing)")
        #expect(listing.first?.file == pluginDirectory.appendingPathComponent("libecho.so").path)
    }

    /// A plugin file removed is withdrawn at the next scan: intake no longer offers its
    /// strategy, a job admitted before still gets its build, a new build of the same id
    /// replaces it, and the same file put back makes it current again. Before, it stayed
    /// current until a restart, and the restart failed the jobs admitted for it meanwhile.
    @Test func aRemovedPluginIsWithdrawnFromNewJobsOnly() async throws {
        let registry = try makeRegistry()
        let file = try install("EchoV1", as: "libecho.so")
        await registry.scan()
        let before = try #require(await registry.acquire(strategy: "echo", job: "job-1"))

        try FileManager.default.removeItem(at: file)
        await registry.scan()
        #expect(await registry.strategyIDs.isEmpty)
        let catalog = await registry.catalog
        #expect(!catalog.ids.contains("echo"))
        #expect(catalog.withdrawnFiles == ["echo": file.path])
        let rows = await registry.listing()
        #expect(rows.map(\.state) == [.withdrawn], "\(rows)")
        #expect(rows.first?.file == file.path)
        #expect(rows.first?.jobs == ["job-1"])
        let queued = try #require(await registry.acquire(strategy: "echo", job: "job-2"))
        #expect(queued == before)
        #expect(FileManager.default.fileExists(atPath: queued.storedFile.path))

        _ = try install("EchoV1", as: "libecho.so")
        await registry.scan()
        #expect(await registry.strategyIDs == ["echo"])
        #expect(await registry.catalog.withdrawnFiles.isEmpty)
        #expect(await registry.listing().map(\.state) == [.current])
        #expect(await registry.acquire(strategy: "echo", job: "job-3") == before)

        try FileManager.default.removeItem(at: file)
        await registry.scan()
        _ = try install("EchoV2", as: "libecho-2.so")
        await registry.scan()
        let replaced = await registry.listing()
        #expect(replaced.map(\.state) == [.current, .retired], "\(replaced)")
        #expect(await registry.acquire(strategy: "echo", job: "job-4")?.description.version != before.description.version)
    }

    /// A file overwritten with another strategy's build, or with one refused, no longer
    /// provides the strategy it held: that one is withdrawn, not left current on a file that
    /// holds something else (the audit saw `bitfit` and `echo` both current on one file, and
    /// `bitfit` jobs admitted with no file providing it). The first build put back under its
    /// name is current again.
    @Test func aFileOverwrittenWithAnotherStrategyWithdrawsTheOneItHeld() async throws {
        let registry = try makeRegistry()
        let file = try install("EchoV1", as: "libswap.so")
        await registry.scan()
        _ = try install("LoRANext", as: "libswap.so")
        await registry.fileChanged(file)
        #expect(await registry.strategyIDs == ["lora"])
        #expect(await registry.catalog.withdrawnFiles == ["echo": file.path])

        _ = try install("NoEntry", as: "libswap.so")
        await registry.fileChanged(file)
        #expect(await registry.strategyIDs.isEmpty)
        #expect(await registry.catalog.withdrawnFiles == ["echo": file.path, "lora": file.path])
        #expect(await refusal(of: "libswap.so", in: registry) != nil)

        _ = try install("EchoV1", as: "libswap.so")
        await registry.fileChanged(file)
        #expect(await registry.strategyIDs == ["echo"])
        #expect(await registry.catalog.withdrawnFiles == ["lora": file.path])
        #expect(await refusal(of: "libswap.so", in: registry) == nil)
    }

    /// A restart after a plugin file was removed withdraws its last build again for the
    /// strategies that queued jobs still need, and only those: such a job used to fail at
    /// its start ("no loaded plugin provides strategy …") with its charge spent. A restart
    /// with no job needing it forgets it.
    @Test func aRestartWithdrawsAgainWhatQueuedJobsNeed() async throws {
        let before = try makeRegistry()
        let file = try install("EchoV1", as: "libecho.so")
        await before.scan()
        let offered = try #require(await before.acquire(strategy: "echo", job: "job-1"))
        try FileManager.default.removeItem(at: file)

        let restarted = try makeRegistry()
        await restarted.scan()
        await restarted.restoreWithdrawn(strategies: ["echo"])
        #expect(await restarted.strategyIDs.isEmpty)
        #expect(await restarted.catalog.withdrawnFiles == ["echo": file.path])
        let version = try #require(await restarted.acquire(strategy: "echo", job: "job-3"))
        #expect(version.sha256 == offered.sha256)
        #expect(version.storedFile == offered.storedFile)
        #expect(version.description == offered.description)
        #expect(await restarted.listing().map(\.state) == [.withdrawn])

        let unneeded = try makeRegistry()
        await unneeded.scan()
        await unneeded.restoreWithdrawn(strategies: ["lora"])
        #expect(await unneeded.listing().isEmpty)
        #expect(await unneeded.acquire(strategy: "echo", job: "job-4") == nil)
        let later = try makeRegistry()
        await later.scan()
        await later.restoreWithdrawn(strategies: ["echo"])
        #expect(await later.acquire(strategy: "echo", job: "job-5") == nil)
    }

    @Test func refusedAndDuplicateFilesAreListedWithTheirReason() async throws {
        let registry = try makeRegistry()
        _ = try install("EchoV1", as: "libecho.so")
        _ = try install("EchoV2", as: "libecho-copy.so")
        _ = try install("WrongABI", as: "libwrong.so")
        await registry.scan()
        let rows = await registry.listing()
        #expect(await registry.strategyIDs == ["echo"])
        let refused = rows.filter { $0.state == .refused }
        #expect(refused.count == 2)
        #expect(refused.contains { $0.file.hasSuffix("libwrong.so") && ($0.reason ?? "").hasPrefix("abi_mismatch") })
        #expect(refused.contains { $0.file.hasSuffix("libecho.so") && ($0.reason ?? "").hasPrefix("duplicate") }
            || refused.contains { $0.file.hasSuffix("libecho-copy.so") && ($0.reason ?? "").hasPrefix("duplicate") })
    }

    /// A FIFO named like a plugin would block a plain read until someone writes to it:
    /// the registry refuses it at once and loads the real plugin beside it.
    @Test func aFIFONamedLikeAPluginIsRefusedWithoutBlocking() async throws {
        let registry = try makeRegistry()
        let fifo = pluginDirectory.appendingPathComponent("x.so").path
        try #require(mkfifo(fifo, 0o600) == 0)
        _ = try install("EchoV1", as: "libecho.so")
        let done = Flag()
        let scan = Task {
            await registry.scan()
            done.set()
        }
        let finished = try await onOwnThread {
            for _ in 0..<250 where !done.isSet { usleep(20_000) }
            if done.isSet { return true }
            // Blocked on the FIFO: a writer that comes and goes lets it go, so the test ends.
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            return false
        }
        await scan.value
        #expect(finished)
        #expect(await registry.strategyIDs == ["echo"])
        #expect(await refusal(of: "x.so", in: registry)?.hasPrefix("not_a_regular_file: ") == true)
    }

    /// A link to a device would be read until memory runs out: refused unread. A link to a
    /// regular file (as packaging makes) loads.
    @Test func linksMustNameARegularFile() async throws {
        let registry = try makeRegistry()
        try FileManager.default.createSymbolicLink(
            atPath: pluginDirectory.appendingPathComponent("zero.so").path, withDestinationPath: "/dev/zero")
        let real = root.appendingPathComponent("libecho.so.1")
        try FileManager.default.copyItem(at: BuildProducts.library("EchoV1"), to: real)
        try FileManager.default.createSymbolicLink(
            atPath: pluginDirectory.appendingPathComponent("libecho.so").path, withDestinationPath: real.path)
        await registry.scan()
        #expect(await registry.strategyIDs == ["echo"])
        #expect(await refusal(of: "zero.so", in: registry)?.contains("a character device") == true)
    }

    @Test func aFileOverTheSizeLimitIsRefusedUnread() async throws {
        let registry = try makeRegistry(maxPluginBytes: 4096)
        _ = try install("EchoV1", as: "libecho.so")
        await registry.scan()
        #expect(await registry.strategyIDs.isEmpty)
        #expect(await refusal(of: "libecho.so", in: registry)?.hasPrefix("too_large: ") == true)
    }

    /// A plugin that hangs while loading holds neither the registry nor a stopping daemon.
    ///
    /// The probe used to run on the registry's own executor: until its 30 s deadline, intake,
    /// `dptunectl plugins` and job starts waited on the registry (and, on one core, every
    /// task waited, the watchdog's too), and a SIGTERM waited for the scan. Here the probe
    /// of a file reading HANG ignores SIGTERM and sleeps a minute.
    @Test func aHungProbeHoldsNeitherTheRegistryNorAStop() async throws {
        let (script, directory) = try ShortLivedChildTests.script("""
            for file; do :; done
            if grep -q HANG "$file"; then
                trap '' TERM
                echo $$ > "$(dirname "$0")/hung.pid.new" && mv "$(dirname "$0")/hung.pid.new" "$(dirname "$0")/hung.pid"
                exec sleep 60
            fi
            exec '\(BuildProducts.executable("dptuned").path)' "$@"
            """)
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        let registry = try PluginRegistry(pluginDirectory: pluginDirectory, stateDirectory: root.appendingPathComponent("state"),
                                          probeExecutable: script)
        _ = try install("EchoV1", as: "libecho.so")
        try Data("HANG".utf8).write(to: pluginDirectory.appendingPathComponent("libhung.so"))
        let scan = Task { await registry.scan() }
        let pidFile = directory.url.appendingPathComponent("hung.pid")
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: pidFile.path) { try await Task.sleep(for: .milliseconds(20)) }
        let pid = try #require(Int32(String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))

        // The echo build sorts first, so its answer is applied while the other probe hangs.
        var start = ContinuousClock.now
        var ids: [String] = []
        while ids.isEmpty && ContinuousClock.now - start < .seconds(10) {
            ids = await registry.strategyIDs
            if ids.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(ids == ["echo"])
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(!ShortLivedChildTests.hasEnded(pid), "the hung probe ended early; the test proves nothing")

        start = ContinuousClock.now
        registry.stop()
        await scan.value
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(ShortLivedChildTests.hasEnded(pid))
        // Called off, the file is neither accepted nor refused: the next start probes it again.
        #expect(await refusal(of: "libhung.so", in: registry) == nil)
        #expect(await registry.strategyIDs == ["echo"])
    }
}

/// Set once, read from any thread.
private final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

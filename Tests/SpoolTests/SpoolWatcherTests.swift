// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Spool
import TestSupport
import Testing

@Suite struct SpoolWatcherTests {
    /// Lives as long as the test (each test gets its own suite value).
    private let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    /// Collects events up to and including `last`, or until a timeout (which closes the watcher).
    private func events(from watcher: SpoolWatcher, through last: SpoolWatcher.Event) async -> [SpoolWatcher.Event] {
        let timeout = Task {
            try await Task.sleep(for: .seconds(10))
            watcher.close()
        }
        defer { timeout.cancel() }
        var events: [SpoolWatcher.Event] = []
        for await event in watcher.events {
            events.append(event)
            if event == last { break }
        }
        return events
    }

    @Test func seesARenameIntoTheFolderAndAFileWrittenInPlace() async throws {
        let spool = try SpoolDirectory(root: directory.url)
        let watcher = try SpoolWatcher(directory: spool.url(of: .incoming))
        defer { watcher.close() }

        let staged = spool.url(of: .tmp).appendingPathComponent("renamed.jsonl").path
        #expect(FileManager.default.createFile(atPath: staged, contents: Data("{}\n".utf8)))
        #expect(rename(staged, spool.url(of: .incoming).appendingPathComponent("renamed.jsonl").path) == 0)
        let inPlace = spool.url(of: .incoming).appendingPathComponent("written.jsonl").path
        let file = open(inPlace, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(file >= 0)
        #expect(write(file, "{}\n", 3) == 3)
        #expect(close(file) == 0)

        #expect(await events(from: watcher, through: .arrived("written.jsonl")) == [.arrived("renamed.jsonl"), .arrived("written.jsonl")])
    }

    /// Asked for departures, the watcher reports a name removed and one renamed away, after
    /// their arrivals; without asking, neither (the spool's intake has no use for them).
    @Test(arguments: [true, false])
    func reportsDeparturesOnlyWhenAsked(departures: Bool) async throws {
        let watcher = try SpoolWatcher(directory: directory.url, departures: departures)
        defer { watcher.close() }
        /// Creates `name` in place: one close after writing, nothing renamed.
        func create(_ name: String) -> String {
            let path = directory.url.appendingPathComponent(name).path
            let file = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            #expect(file >= 0)
            #expect(close(file) == 0)
            return path
        }
        let gone = create("gone.so")
        let moved = create("moved.so")
        #expect(unlink(gone) == 0)
        let outside = try TemporaryDirectory()
        #expect(rename(moved, outside.url.appendingPathComponent("moved.so").path) == 0)
        _ = create("last.so")

        let events = await events(from: watcher, through: .arrived("last.so"))
        let expected: [SpoolWatcher.Event] = departures
            ? [.arrived("gone.so"), .arrived("moved.so"), .departed("gone.so"), .departed("moved.so"), .arrived("last.so")]
            : [.arrived("gone.so"), .arrived("moved.so"), .arrived("last.so")]
        #expect(events == expected)
    }

    @Test func closeFinishesTheEvents() async throws {
        let watcher = try SpoolWatcher(directory: directory.url)
        watcher.close()
        watcher.close()
        var count = 0
        for await _ in watcher.events { count += 1 }
        #expect(count == 0)
    }

    @Test func refusesAMissingFolder() throws {
        #expect(throws: SpoolError.self) { try SpoolWatcher(directory: directory.url.appendingPathComponent("absent")) }
    }

    /// A name that is not valid UTF-8 is reported as such, not as a lossy text that names no file.
    @Test func reportsANameThatIsNotUTF8WithoutAlteringIt() async throws {
        let spool = try SpoolDirectory(root: directory.url)
        let watcher = try SpoolWatcher(directory: spool.url(of: .incoming))
        defer { watcher.close() }
        let path = (Array(spool.url(of: .incoming).path.utf8) + Array("/bad".utf8) + [0xFF] + Array(".jsonl".utf8))
            .map { CChar(bitPattern: $0) } + [0]
        let file = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(file >= 0)
        #expect(close(file) == 0)
        let events = await events(from: watcher, through: .undecodableName)
        #expect(events.last == .undecodableName)
        #expect(!events.contains { if case .arrived = $0 { true } else { false } })
    }
}

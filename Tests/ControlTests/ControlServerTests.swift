// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("ControlServer")
struct ControlServerTests {
    // MARK: Bad requests get an answer, never a crash or a silent close

    @Test("malformed JSON, a non-object, a missing field: malformed_request, and the connection stays usable")
    func malformedRequests() async throws {
        try await ServerFixture.with { fixture in
            let answers = try await fixture.raw { connection in
                var answers: [[String: Any]] = []
                for line in [
                    "{\"v\":1,\"id\":3,\"method\":", "[1,2,3]", "\"status\"", "{\"id\":4,\"method\":\"status\"}",
                    "{\"v\":1,\"id\":5,\"method\":\"job\"}", "{\"v\":1,\"id\":6,\"method\":\"job\",\"params\":{\"id\":42}}",
                    "{\"v\":1,\"id\":7,\"method\":\"status\"}",
                ] {
                    try connection.send(line + "\n")
                    answers.append(try connection.readObject())
                }
                return answers.map { $0.mapValues { "\($0)" } }
            }
            #expect(answers.count == 7)
            for answer in answers.prefix(6) {
                #expect(answer["ok"] == "0")
                #expect(answer["v"] == "1")
            }
            #expect(answers[0]["id"] == "<null>")
            #expect(answers[4]["id"] == "5")
            #expect(answers[4]["error"]?.contains("method job needs \\\"params\\\"") == true)
            #expect(answers[5]["error"]?.contains("params.id: expected String") == true)
            #expect(answers[6]["ok"] == "1")
            #expect(answers[6]["id"] == "7")
        }
    }

    @Test("error codes for malformed input, unknown method, wrong version")
    func errorCodes() async throws {
        try await ServerFixture.with { fixture in
            let answers = try await fixture.raw { connection in
                try ["not json at all", "{\"v\":1,\"id\":8,\"method\":\"reboot\"}", "{\"v\":2,\"id\":9,\"method\":\"status\"}"].map {
                    line in
                    try connection.send(line + "\n")
                    let object = try connection.readObject()
                    return "\(object["id"].map { "\($0)" } ?? "-") \(object.errorCode ?? "ok")"
                }
            }
            #expect(answers == ["<null> malformed_request", "8 unknown_method", "9 unsupported_version"])
            #expect(fixture.handler.received.isEmpty)
        }
    }

    @Test("a line over 1 MiB: request_too_large, then the server closes; exactly 1 MiB is fine")
    func oversizedLine() async throws {
        try await ServerFixture.with { fixture in
            let limit = 1 << 20
            let (code, closed) = try await fixture.raw { connection in
                try connection.send([UInt8](repeating: UInt8(ascii: "x"), count: limit + 1) + [UInt8(ascii: "\n")])
                let answer = try connection.readObject()
                return (answer.errorCode, try connection.isClosedByServer())
            }
            #expect(code == "request_too_large")
            #expect(closed)

            // Same without a newline at all: refused as soon as the limit is passed.
            let (endless, endlessClosed) = try await fixture.raw { connection in
                try connection.send([UInt8](repeating: UInt8(ascii: "y"), count: limit + 4096))
                return (try connection.readObject().errorCode, try connection.isClosedByServer())
            }
            #expect(endless == "request_too_large")
            #expect(endlessClosed)

            // A valid request padded with spaces to exactly the limit is answered.
            let request = "{\"v\":1,\"id\":1,\"method\":\"status\"}"
            let padded = String(repeating: " ", count: limit - request.utf8.count) + request
            let ok = try await fixture.raw { connection in
                try connection.send(padded + "\n")
                return try connection.readObject()["ok"] as? Bool
            }
            #expect(ok == true)
        }
    }

    @Test("a client that sends half a line and waits gets timeout, then is closed")
    func slowClientTimesOut() async throws {
        try await ServerFixture.with(requestTimeout: .milliseconds(300)) { fixture in
            let (code, closed, seconds) = try await fixture.raw { connection in
                let start = Date()
                try connection.send("{\"v\":1,\"id\":1,\"meth")
                let answer = try connection.readObject()
                return (answer.errorCode, try connection.isClosedByServer(), Date().timeIntervalSince(start))
            }
            #expect(code == "timeout")
            #expect(closed)
            #expect(seconds >= 0.29)

            // An idle connection is reclaimed the same way.
            let idle = try await fixture.raw { try $0.readObject().errorCode }
            #expect(idle == "timeout")

            // Trickling bytes does not reset the deadline: it bounds the whole request.
            let trickled = try await fixture.raw { connection in
                for byte in "{\"v\":1,\"id\":1,\"method\":\"status\"".utf8 {
                    guard try connection.send([byte]) else { break }
                    usleep(20_000)
                }
                return try connection.readObject().errorCode
            }
            #expect(trickled == "timeout")
            #expect(fixture.handler.received.isEmpty)
        }
    }

    @Test("requests and half-closed input: answered before the server closes")
    func halfClosedClientStillGetsAnswers() async throws {
        try await ServerFixture.with { fixture in
            let (ids, closed) = try await fixture.raw { connection in
                try connection.send("{\"v\":1,\"id\":1,\"method\":\"status\"}\n{\"v\":1,\"id\":2,\"method\":\"jobs\"}\n")
                connection.shutdownWrite()
                let ids = try (0..<2).map { _ in try connection.readObject()["id"] as? Int }
                return (ids, try connection.isClosedByServer())
            }
            #expect(ids == [1, 2])
            #expect(closed)
        }
    }

    @Test("a client that pipelines requests and never reads stalls: the server stops taking requests until it reads")
    func pipeliningWithoutReadingIsThrottled() async throws {
        try await ServerFixture.with { fixture in
            let line = Array("{\"v\":1,\"method\":\"ledger\"}\n".utf8)
            let count = 60_000
            let handler = fixture.handler
            let (sent, answeredAtStall, answeredLater, answers) = try await fixture.raw { connection in
                let all = [UInt8]([[UInt8]](repeating: line, count: count).joined())
                let sent = try connection.sendUntilStalled(all, stall: 1)
                let answeredAtStall = handler.received.count
                usleep(300_000)
                let answeredLater = handler.received.count
                // Reading the answers lets the server take the rest of what was sent.
                let answers = try (0..<(sent / line.count)).map { _ in try connection.readObject()["ok"] as? Bool }
                return (sent, answeredAtStall, answeredLater, answers)
            }
            // Without backpressure the server reads all 1.6 MB and queues every answer in memory.
            #expect(sent < line.count * count / 2, "the server took all \(sent) bytes without the client reading")
            #expect(answeredAtStall < count / 10)
            #expect(answeredLater == answeredAtStall)
            #expect(answers.count == sent / line.count)
            #expect(answers.allSatisfy { $0 == true })
        }
    }

    @Test("50 clients at once are served concurrently")
    func fiftyConcurrentClients() async throws {
        try await ServerFixture.with { fixture in
            fixture.handler.requireConcurrentStatus(50)
            let path = fixture.socketPath
            let answers = try await BlockingThread.run {
                let connections = try (0..<50).map { _ in try RawConnection(path: path, receiveTimeout: 20) }
                for (index, connection) in connections.enumerated() {
                    try connection.send("{\"v\":1,\"id\":\(index),\"method\":\"status\"}\n")
                }
                return try connections.map { connection -> String in
                    let answer = try connection.readObject()
                    return "\(answer["id"] ?? "-") \(answer.errorCode ?? "ok")"
                }
            }
            #expect(answers == (0..<50).map { "\($0) ok" })
        }
    }

    @Test("a connection over the limit gets too_many_connections and is closed; a freed slot serves again")
    func connectionLimit() async throws {
        try await ServerFixture.with(maxConnections: 3) { fixture in
            let path = fixture.socketPath
            let status = "{\"v\":1,\"id\":1,\"method\":\"status\"}\n"
            let (held, refusal, refusalID, refusedClosed, afterFree) = try await BlockingThread.run {
                let connections = try (0..<3).map { _ in try RawConnection(path: path) }
                // An answer on each shows the server has taken all three.
                let held = try connections.map { connection in
                    try connection.send(status)
                    return try connection.readObject().errorCode ?? "ok"
                }
                let extra = try RawConnection(path: path)
                try extra.send(status)
                let refusal = try extra.readObject()
                // Served instead of refused, it would stay open: do not wait for the close then.
                let refusedClosed = refusal.errorCode == "too_many_connections" ? try extra.isClosedByServer() : false

                connections[0].shutdownWrite()
                _ = try connections[0].isClosedByServer()
                // The server forgets a closed connection just after closing it: retry briefly.
                var afterFree = "none"
                for _ in 0..<100 {
                    let next = try RawConnection(path: path)
                    try next.send(status)
                    afterFree = try next.readObject().errorCode ?? "ok"
                    if afterFree == "ok" { break }
                    usleep(20_000)
                }
                return (held, refusal.errorCode, refusal["id"] is NSNull, refusedClosed, afterFree)
            }
            #expect(held == ["ok", "ok", "ok"])
            #expect(refusal == "too_many_connections")
            #expect(refusalID)
            #expect(refusedClosed)
            #expect(afterFree == "ok")
            #expect(fixture.handler.received.count == 4)
        }
    }

    @Test("a limit below one connection is a configuration error")
    func connectionLimitMustAllowOne() throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = ControlServer(
            configuration: .init(listener: .path(directory.appendingPathComponent("c.sock").path, group: nil), maxConnections: 0),
            handler: FakeControlHandler())
        #expect(throws: ControlError(.invalidConfiguration, "")) { try server.start() }
    }

    // MARK: The socket file

    @Test("the socket file is a socket with mode 0660 and the configured group; removed on shutdown")
    func socketFileMode() async throws {
        let path = try await ServerFixture.with(socketGroup: UnprivilegedThread.nogroup) { fixture in
            let status = try SocketFiles.status(fixture.socketPath)
            #expect(status.st_mode & S_IFMT == S_IFSOCK)
            #expect(status.st_mode & 0o7777 == 0o660)
            #expect(status.st_gid == UnprivilegedThread.nogroup)
            #expect(status.st_uid == getuid())
            return fixture.socketPath
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a stale socket file is replaced; a regular file or a live daemon at the path is refused")
    func staleAndForeignFiles() async throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let handler = FakeControlHandler()

        let stale = directory.appendingPathComponent("stale.sock").path
        close(try SocketFiles.bind(path: stale, listen: true))
        let server = ControlServer(configuration: .init(listener: .path(stale, group: nil)), handler: handler)
        try server.start()
        let answer = try await BlockingThread.run { try ControlClient(socketPath: stale).send(.status) }
        #expect(answer == .status(FakeControlHandler.status))

        let second = ControlServer(configuration: .init(listener: .path(stale, group: nil)), handler: handler)
        let busy = #expect(throws: ControlError.self) { try second.start() }
        #expect(busy?.code == .invalidConfiguration)
        #expect(busy?.message.contains("another daemon") == true)
        #expect(throws: ControlError(.alreadyRunning, "")) { try server.start() }
        await server.shutdown()

        let plain = directory.appendingPathComponent("plain").path
        #expect(FileManager.default.createFile(atPath: plain, contents: Data("keep me".utf8)))
        let third = ControlServer(configuration: .init(listener: .path(plain, group: nil)), handler: handler)
        let refused = #expect(throws: ControlError.self) { try third.start() }
        #expect(refused?.message.contains("is not a socket") == true)
        #expect(FileManager.default.contents(atPath: plain) == Data("keep me".utf8))
    }

    @Test("an inherited listening descriptor (socket activation) is adopted and left in place")
    func adoptsListeningDescriptor() async throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("activated.sock").path
        let fd = try SocketFiles.bind(path: path, listen: true)
        let server = ControlServer(configuration: .init(listener: .adopted(descriptor: fd)), handler: FakeControlHandler())
        try server.start()
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        let answer = try await BlockingThread.run { try ControlClient(socketPath: path).send(.jobs) }
        #expect(answer == .jobs([FakeControlHandler.job]))
        await server.shutdown()
        // The file belongs to systemd's socket unit, not to the daemon.
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("group names resolve to ids; an unknown group is a configuration error")
    func groupNames() throws {
        #expect(try ControlServer.Configuration.groupID(named: "root") == 0)
        let error = #expect(throws: ControlError.self) {
            try ControlServer.Configuration.groupID(named: "no-such-group-dptune")
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("no-such-group-dptune") == true)
    }

    @Test("descriptors that are not listening Unix stream sockets are refused")
    func refusesUnusableDescriptors() throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notListening = try SocketFiles.bind(path: directory.appendingPathComponent("idle.sock").path, listen: false)
        defer { close(notListening) }
        var pipeEnds: [CInt] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        defer { pipeEnds.forEach { close($0) } }
        for fd in [notListening, pipeEnds[0]] {
            let server = ControlServer(configuration: .init(listener: .adopted(descriptor: fd)), handler: FakeControlHandler())
            let error = #expect(throws: ControlError.self) { try server.start() }
            #expect(error?.code == .invalidConfiguration)
        }
    }

    // MARK: Shutdown

    @Test("shutdown finishes the request in flight, ends watches, then closes and stops accepting")
    func gracefulShutdown() async throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("control.sock").path
        let handler = FakeControlHandler()
        let gate = Gate()
        handler.holdJobs(until: gate)
        let server = ControlServer(configuration: .init(listener: .path(path, group: nil)), handler: handler)
        let running = Task { try await server.run() }
        while !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(10)) }

        let inFlight = Task { try await BlockingThread.run { try ControlClient(socketPath: path).send(.jobs) } }
        while await gate.arrivals == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let stopping = Task { await server.shutdown() }
        try await Task.sleep(for: .milliseconds(100))
        await gate.open()

        #expect(try await inFlight.value == .jobs([FakeControlHandler.job]))
        await stopping.value
        try await running.value
        #expect(!FileManager.default.fileExists(atPath: path))
        let after = #expect(throws: ControlError.self) { try ControlClient(socketPath: path) }
        #expect(after?.code == .daemonNotRunning)
    }

    @Test("a watch open at shutdown ends with shutting_down")
    func shutdownEndsWatches() async throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("control.sock").path
        let server = ControlServer(configuration: .init(listener: .path(path, group: nil)), handler: EndlessWatch())
        try server.start()
        let watching = Task {
            try await BlockingThread.run { () -> ControlError? in
                do {
                    _ = try ControlClient(socketPath: path).watch(jobID: "job-1") { _ in }
                    return nil
                } catch let error as ControlError {
                    return error
                }
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        await server.shutdown()
        #expect(try await watching.value?.code == .shuttingDown)
    }

    // MARK: Connections as the handler sees them

    @Test("the handler learns which connection each request came on, and hears once of each close")
    func connectionsAreNamedAndTheirCloseReported() async throws {
        try await ServerFixture.with { fixture in
            let path = fixture.socketPath
            try await BlockingThread.run {
                let client = try ControlClient(socketPath: path, timeout: .seconds(10))
                try client.send(.status)
                try client.send(.jobs)
            }
            _ = try await fixture.send(.status)
            let connections = fixture.handler.received.compactMap(\.connection)
            try #require(connections.count == 3)
            #expect(connections[0] == connections[1])
            #expect(connections[1] != connections[2])
            let deadline = ContinuousClock.now + .seconds(5)
            while fixture.handler.closedConnections.count < 2 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(fixture.handler.closedConnections.count == 2)
            #expect(Set(fixture.handler.closedConnections) == [connections[0], connections[2]])
        }
    }
}

/// A job that never ends: its watch stream stays open until the server cancels it.
private struct EndlessWatch: ControlHandler {
    func handle(_ request: ControlRequest, peer: PeerCredentials, connection: ControlConnectionID) async throws -> ControlResult {
        .job(FakeControlHandler.detail)
    }

    func watch(jobID: String, peer: PeerCredentials) async throws -> AsyncStream<ProgressEvent> {
        AsyncStream(unfolding: {
            try? await Task.sleep(for: .seconds(3600))
            return nil
        })
    }
}

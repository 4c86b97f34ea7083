// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport

/// A running ``ControlServer`` with a ``FakeControlHandler`` on a socket in a fresh
/// temporary directory, shut down and removed after the test body.
struct ServerFixture: Sendable {
    let directory: URL
    let socketPath: String
    let handler: FakeControlHandler
    let server: ControlServer

    static func with<T>(
        requestTimeout: Duration = .seconds(30),
        adminGroup: gid_t? = nil,
        socketGroup: gid_t? = nil,
        maxConnections: Int = 64,
        _ body: (ServerFixture) async throws -> T
    ) async throws -> T {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("control.sock").path
        let handler = FakeControlHandler()
        let server = ControlServer(
            configuration: .init(
                listener: .path(socketPath, group: socketGroup), adminGroup: adminGroup,
                requestTimeout: requestTimeout, shutdownGracePeriod: .seconds(5), maxConnections: maxConnections),
            handler: handler)
        try server.start()
        let fixture = ServerFixture(directory: directory, socketPath: socketPath, handler: handler, server: server)
        do {
            let result = try await body(fixture)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// A new directory under the system's temporary directory (short, for `sun_path`).
    static func makeTemporaryDirectory() throws -> URL {
        let directory = URL(fileURLWithPath: "/tmp", isDirectory: true)
            .appendingPathComponent("dptune-control-\(UUID().uuidString.prefix(12))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        return directory
    }

    /// Sends `request` with a real ``ControlClient`` on its own thread.
    func send(_ request: ControlRequest) async throws -> ControlResult {
        let path = socketPath
        return try await BlockingThread.run { try ControlClient(socketPath: path, timeout: .seconds(10)).send(request) }
    }

    /// Opens a raw connection, runs `body` with it on its own thread.
    func raw<T: Sendable>(receiveTimeout: Double = 10, _ body: @escaping @Sendable (RawConnection) throws -> T) async throws -> T {
        let path = socketPath
        return try await BlockingThread.run { try body(RawConnection(path: path, receiveTimeout: receiveTimeout)) }
    }
}

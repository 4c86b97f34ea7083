// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport

/// A ``ControlServer`` with a ``FakeControlHandler`` on a temporary socket, and the built
/// `dptunectl` pointed at it, as an operator would run it.
struct CLIFixture: Sendable {
    let socketPath: String
    let handler: FakeControlHandler

    static func with<T>(_ body: (CLIFixture) async throws -> T) async throws -> T {
        // Under /tmp rather than $TMPDIR: a socket path must fit in sun_path (108 bytes).
        let directory = URL(fileURLWithPath: "/tmp", isDirectory: true)
            .appendingPathComponent("dptunectl-\(UUID().uuidString.prefix(12))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("control.sock").path
        let handler = FakeControlHandler()
        let server = ControlServer(
            configuration: .init(
                listener: .path(socketPath, group: nil), adminGroup: getegid(), shutdownGracePeriod: .seconds(2)),
            handler: handler)
        try server.start()
        do {
            let result = try await body(CLIFixture(socketPath: socketPath, handler: handler))
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// Runs `dptunectl --socket <this server> arguments…` on a thread of its own (the server's
    /// handler needs the cooperative pool the test would otherwise block).
    func run(_ arguments: String...) async throws -> ProductExecutable.Result {
        try await Self.run(["--socket", socketPath] + arguments)
    }

    static func run(_ arguments: [String]) async throws -> ProductExecutable.Result {
        let executable = try ProductExecutable("dptunectl")
        return try await BlockingThread.run { try executable.run(arguments) }
    }

    /// The lines of `text`, without the empty one after the final newline.
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    /// Decodes `--json` output as the daemon's payload type.
    static func decode<T: Decodable>(_ type: T.Type, from text: some StringProtocol) throws -> T {
        try JSONDecoder.controlProtocol().decode(T.self, from: Data(text.utf8))
    }
}

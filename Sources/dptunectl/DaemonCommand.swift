// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control
import Foundation

/// A command that asks the daemon something over the control socket.
///
/// Conforming commands only say what to ask and how to show the answer; connecting, and
/// turning every failure into one line on standard error and the exit status of DESIGN §3.6,
/// happens once, in ``execute()``.
protocol DaemonCommand: StatusCommand {
    var root: DPTuneCtl { get }
    /// What the command is about, for error lines: "job job-1", "ledger".
    var subject: String { get }
    /// How long to wait for an answer; `watch` events are not bounded by it.
    static var responseTimeout: Duration { get }
    /// Talks to the daemon and prints the outcome.
    ///
    /// - Returns: The exit status when the exchange itself succeeded.
    /// - Throws: ``ControlError`` when the daemon refuses or cannot be reached.
    func exchange(with client: ControlClient) throws(ControlError) -> Int32
}

extension DaemonCommand {
    static var responseTimeout: Duration { .seconds(30) }

    func execute() -> Int32 {
        do {
            let client = try ControlClient(socketPath: root.socket, timeout: Self.responseTimeout)
            return try exchange(with: client)
        } catch {
            return report(error)
        }
    }

    /// Sends `request` and prints the answer (JSON, or `human` text of it).
    func printAnswer(
        to request: ControlRequest, with client: ControlClient,
        human: (ControlResult) -> String = ResultText.text(for:)
    ) throws(ControlError) -> Int32 {
        try printResult(try client.send(request), human: human)
    }

    /// Prints a result as ``printAnswer(to:with:human:)`` does.
    func printResult(
        _ result: ControlResult, human: (ControlResult) -> String = ResultText.text(for:)
    ) throws(ControlError) -> Int32 {
        if root.json {
            try printJSON(result)
        } else {
            Terminal.write(human(result) + "\n")
        }
        return ExitStatus.ok
    }

    /// Prints `value` as one line of JSON, encoded as on the wire.
    func printJSON(_ value: some Encodable) throws(ControlError) {
        let data: Data
        do {
            data = try JSONEncoder.controlProtocol().encode(value)
        } catch {
            throw ControlError(.internal, "the answer could not be encoded as JSON: \(error)")
        }
        Terminal.write(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// Writes one line for `error` to standard error and returns the matching exit status.
    private func report(_ error: ControlError) -> Int32 {
        switch error.code {
        case .daemonNotRunning:
            writeToStandardError(
                "dptunectl: dptuned is not running: nothing listens on \(root.socket); start it with "
                    + "`systemctl start dptuned` or `dptuned --config /etc/dptune/dptuned.toml`, or pass --socket PATH")
            return ExitStatus.daemonUnreachable
        case .connectionFailed:
            writeToStandardError("dptunectl: \(subject): \(error.message)")
            return ExitStatus.daemonUnreachable
        default:
            writeToStandardError("dptunectl: \(subject): \(error.message) (\(error.code))")
            return ExitStatus.failed
        }
    }
}

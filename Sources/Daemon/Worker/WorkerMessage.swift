// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Records

/// One line a worker writes to the daemon: progress after each step, `publishing` once the
/// run is evaluated, then one result.
///
/// JSON Lines on the worker's standard output, which the worker keeps for this channel
/// alone (anything else it or a plugin prints goes to standard error). The daemon turns
/// progress into ``Control/ProgressEvent``s and the result into the job's outcome.
struct WorkerMessage: Sendable, Hashable, Codable {
    enum Kind: String, Sendable, Hashable, Codable {
        case progress
        /// The run is evaluated and its adapter about to be written. The worker waits for
        /// the daemon's go-ahead, one byte on its standard input, which the daemon gives only
        /// if no cancel came first; after it the daemon refuses cancels. So a cancel is
        /// answered as under way only when the job does end cancelled.
        case publishing
        case succeeded
        case failed
        case cancelled
        /// The host ran short (``ResourceShortage``); the job is to run again.
        case postponed
    }

    var kind: Kind
    var step: Int?
    var steps: Int?
    var loss: Double?
    var epsilonSpent: Double?
    var examplesPerSecond: Double?
    /// The published adapter directory (`succeeded`).
    var adapterPath: String?
    /// Why the job did not succeed (`failed`, `cancelled`, `postponed`).
    var reason: String?

    static func progress(step: Int, steps: Int, loss: Double, epsilonSpent: Double, examplesPerSecond: Double) -> Self {
        Self(kind: .progress, step: step, steps: steps, loss: loss, epsilonSpent: epsilonSpent,
             examplesPerSecond: examplesPerSecond)
    }

    static let publishing = Self(kind: .publishing)
    static func succeeded(adapterPath: String) -> Self { Self(kind: .succeeded, adapterPath: adapterPath) }
    static func failed(_ reason: String) -> Self { Self(kind: .failed, reason: reason) }
    static func cancelled(_ reason: String) -> Self { Self(kind: .cancelled, reason: reason) }
    static func postponed(_ reason: String) -> Self { Self(kind: .postponed, reason: reason) }

    enum CodingKeys: String, CodingKey {
        case kind, step, steps, loss, reason
        case epsilonSpent = "epsilon_spent"
        case examplesPerSecond = "examples_per_second"
        case adapterPath = "adapter_path"
    }

    /// The message as one line, newline included.
    func line() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = NonFiniteJSON.encoding
        // Every field is a number (non-finite ones as strings), a string or nil: encoding cannot fail.
        var data = (try? encoder.encode(self)) ?? Data(#"{"kind":"failed","reason":"unencodable message"}"#.utf8)
        data.append(0x0A)
        return data
    }

    /// The decoder of ``line()``'s lines (one per report stream), non-finite numbers included.
    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = NonFiniteJSON.decoding
        return decoder
    }
}

/// The exit statuses of `dptuned worker`, read by the daemon together with the last message.
public enum WorkerExitStatus {
    public static let succeeded: Int32 = 0
    public static let failed: Int32 = 1
    /// SIGTERM stopped the job after a step (an operator's cancel).
    public static let cancelled: Int32 = 3
    /// The daemon went away (its end of the worker's standard input closed); the job stays
    /// recorded as running and is resumed at the daemon's next start.
    public static let orphaned: Int32 = 4
    /// The host ran short of disk or file descriptors (``ResourceShortage``): the job is to run again.
    public static let postponed: Int32 = 5
}

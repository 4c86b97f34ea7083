// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records

/// Member names of the messages on the control socket.
enum ControlEnvelopeKey: String, CodingKey {
    case v, id, method, params, ok, result, error, event
}

/// A message the daemon sends to a client.
enum ControlMessage: Sendable, Hashable {
    /// The answer to request `id`; the last message for that request.
    case response(id: Int?, Result<ControlResult, ControlError>)
    /// A progress event for the `watch` request `id`.
    case event(id: Int?, ProgressEvent)
}

/// The newline-delimited JSON encoding of requests, responses and events (DESIGN §3.4).
///
/// One message per line, every message carries `"v": 1`. Dates are ISO 8601 in UTC with
/// milliseconds. Non-finite numbers, which plain JSON cannot carry, are the strings
/// `"Infinity"`, `"-Infinity"` and `"NaN"`: a diverged loss or an account with a
/// non-private charge (ε = ∞) must still be reportable. A request the daemon cannot understand still gets a response naming the
/// problem, with `"id": null` when not even the id could be read.
enum ControlWire {
    static let version = 1

    private static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = NonFiniteJSON.encoding
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(dateStyle))
        }
        return encoder
    }

    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = NonFiniteJSON.decoding
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = try? dateStyle.parse(text) { return date }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
        }
        return decoder
    }

    // MARK: Requests

    private struct OutgoingRequest: Encodable {
        var id: Int
        var request: ControlRequest

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: ControlEnvelopeKey.self)
            try container.encode(ControlWire.version, forKey: .v)
            try container.encode(id, forKey: .id)
            try container.encode(request.method, forKey: .method)
            try request.encodeParams(into: &container)
        }
    }

    /// Reads a request leniently: it records what is wrong instead of throwing, so the
    /// response can still carry the id when the id was readable.
    private struct IncomingRequest: Decodable {
        var id: Int?
        var outcome: Result<ControlRequest, ControlError>

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: ControlEnvelopeKey.self)
            id = try? container.decodeIfPresent(Int.self, forKey: .id)
            do {
                outcome = .success(try Self.parse(container))
            } catch let error as ControlError {
                outcome = .failure(error)
            } catch let error as DecodingError {
                outcome = .failure(ControlError(.malformedRequest, ControlWire.describe(error)))
            }
        }

        private static func parse(_ container: KeyedDecodingContainer<ControlEnvelopeKey>) throws -> ControlRequest {
            guard container.contains(.v) else {
                throw ControlError(.malformedRequest, "missing \"v\" (protocol version)")
            }
            let version = try container.decode(Int.self, forKey: .v)
            guard version == ControlWire.version else {
                throw ControlError(
                    .unsupportedVersion,
                    "protocol version \(version) is not supported; this daemon speaks \(ControlWire.version)")
            }
            if container.contains(.id), try container.decodeNil(forKey: .id) == false {
                _ = try container.decode(Int.self, forKey: .id)
            }
            guard container.contains(.method) else {
                throw ControlError(.malformedRequest, "missing \"method\"")
            }
            let name = try container.decode(String.self, forKey: .method)
            guard let method = ControlMethod(rawValue: name) else {
                throw ControlError(.unknownMethod, "unknown method \"\(name)\"")
            }
            return try ControlRequest.decode(method: method, params: container)
        }
    }

    static func encode(request: ControlRequest, id: Int) throws -> Data {
        try line(makeEncoder().encode(OutgoingRequest(id: id, request: request)))
    }

    /// Parses one request line (without its newline).
    ///
    /// - Returns: the request id when readable, and the request or the error to answer with.
    static func decodeRequest(_ line: Data) -> (id: Int?, Result<ControlRequest, ControlError>) {
        do {
            let incoming = try makeDecoder().decode(IncomingRequest.self, from: line)
            return (incoming.id, incoming.outcome)
        } catch let error as DecodingError {
            let reason: String
            switch error {
            case .typeMismatch: reason = "a request must be a JSON object"
            default: reason = "not valid JSON"
            }
            return (nil, .failure(ControlError(.malformedRequest, reason)))
        } catch {
            return (nil, .failure(ControlError(.malformedRequest, "not valid JSON")))
        }
    }

    // MARK: Responses and events

    private struct ErrorBody: Codable {
        var code: String
        var message: String
    }

    private struct OutgoingMessage: Encodable {
        var message: ControlMessage

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: ControlEnvelopeKey.self)
            try container.encode(ControlWire.version, forKey: .v)
            switch message {
            case .response(let id, .success(let result)):
                try container.encode(id, forKey: .id)
                try container.encode(true, forKey: .ok)
                try container.encode(result, forKey: .result)
            case .response(let id, .failure(let error)):
                try container.encode(id, forKey: .id)
                try container.encode(false, forKey: .ok)
                try container.encode(ErrorBody(code: error.code.rawValue, message: error.message), forKey: .error)
            case .event(let id, let event):
                try container.encode(id, forKey: .id)
                try container.encode(event, forKey: .event)
            }
        }
    }

    private struct IncomingHeader: Decodable {
        var v: Int
        var id: Int?
        var ok: Bool?
        var error: ErrorBody?
        var event: ProgressEvent?
    }

    private struct IncomingResult<Payload: Decodable>: Decodable {
        var result: Payload
    }

    static func encode(_ message: ControlMessage) throws -> Data {
        try line(makeEncoder().encode(OutgoingMessage(message: message)))
    }

    /// Parses one line from the daemon, reading `result` as the answer to `method`.
    static func decodeMessage(_ line: Data, answering method: ControlMethod) throws(ControlError) -> ControlMessage {
        let decoder = makeDecoder()
        do {
            let header = try decoder.decode(IncomingHeader.self, from: line)
            guard header.v == version else {
                throw ControlError(.protocolViolation, "daemon speaks protocol version \(header.v), not \(version)")
            }
            switch header.ok {
            case nil:
                guard let event = header.event else {
                    throw ControlError(.protocolViolation, "message is neither a response nor an event")
                }
                return .event(id: header.id, event)
            case false:
                guard let body = header.error else {
                    throw ControlError(.protocolViolation, "failed response without \"error\"")
                }
                return .response(id: header.id, .failure(ControlError(.init(rawValue: body.code), body.message)))
            case true:
                func result<Payload: Decodable>(_ type: Payload.Type) throws -> Payload {
                    try decoder.decode(IncomingResult<Payload>.self, from: line).result
                }
                let value: ControlResult =
                    switch method {
                    case .status: .status(try result(DaemonStatus.self))
                    case .jobs: .jobs(try result(ControlResult.JobList.self).jobs)
                    case .job, .cancel, .watch: .job(try result(JobDetail.self))
                    case .ledger: .ledger(try result(LedgerReport.self))
                    case .accounts: .accounts(try result(ControlResult.AccountList.self).accounts)
                    case .plugins, .pluginsReload: .plugins(try result(ControlResult.PluginList.self).plugins)
                    case .submitBegin, .submitChunk: .upload(try result(UploadProgress.self))
                    case .submitEnd: .submitted(try result(SubmitReceipt.self))
                    }
                return .response(id: header.id, .success(value))
            }
        } catch let error as ControlError {
            throw error
        } catch let error as DecodingError {
            throw ControlError(.protocolViolation, "unreadable message from the daemon: \(describe(error))")
        } catch {
            throw ControlError(.protocolViolation, "unreadable message from the daemon: \(error)")
        }
    }

    // MARK: Helpers

    private static func line(_ json: Data) -> Data {
        var data = json
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// A one-line account of a decoding failure naming the member, e.g. `params.id: expected String`.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "message" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

extension JSONEncoder {
    /// An encoder writing JSON exactly as the control socket does (sorted keys, ISO 8601
    /// dates, non-finite numbers as strings), so `dptunectl --json` prints what the daemon sent.
    public static func controlProtocol() -> JSONEncoder {
        ControlWire.makeEncoder()
    }
}

extension JSONDecoder {
    /// A decoder reading JSON as the control socket writes it, for scripts and tests that
    /// read `dptunectl --json` into the payload types.
    public static func controlProtocol() -> JSONDecoder {
        ControlWire.makeDecoder()
    }
}

// SPDX-License-Identifier: Apache-2.0

/// The name of a control request, as spelled in `"method"`.
public enum ControlMethod: String, Sendable, Hashable, CaseIterable, Codable {
    case status
    case jobs
    case job
    case watch
    case cancel
    case ledger
    case accounts
    case plugins
    case pluginsReload = "plugins.reload"
    case submitBegin = "submit.begin"
    case submitChunk = "submit.chunk"
    case submitEnd = "submit.end"

    /// Whether the request changes daemon state and so needs an admin caller (DESIGN §3.4).
    public var changesState: Bool {
        switch self {
        case .cancel, .pluginsReload, .submitBegin, .submitChunk, .submitEnd: true
        case .status, .jobs, .job, .watch, .ledger, .accounts, .plugins: false
        }
    }
}

/// One request to the daemon with its parameters.
///
/// On the wire: `{"v":1,"id":7,"method":"job","params":{"id":"…"}}`; `params` is omitted for
/// requests that take none.
public enum ControlRequest: Sendable, Hashable {
    case status
    case jobs
    case job(id: String)
    /// Streams ``ProgressEvent``s until the job ends, then one final response with its ``JobDetail``.
    case watch(id: String)
    case cancel(id: String)
    /// Every charge, or those of one account.
    case ledger(account: String?)
    case accounts
    case plugins
    case pluginsReload
    /// Queue a dataset that the client sends: `submitBegin`, a `submitChunk` for each piece
    /// of each file, then `submitEnd`, all on one connection (``ControlClient/submit(dataset:manifest:chunkBytes:)``).
    case submitBegin(SubmitBegin)
    case submitChunk(SubmitChunk)
    case submitEnd(SubmitEnd)

    public var method: ControlMethod {
        switch self {
        case .status: .status
        case .jobs: .jobs
        case .job: .job
        case .watch: .watch
        case .cancel: .cancel
        case .ledger: .ledger
        case .accounts: .accounts
        case .plugins: .plugins
        case .pluginsReload: .pluginsReload
        case .submitBegin: .submitBegin
        case .submitChunk: .submitChunk
        case .submitEnd: .submitEnd
        }
    }
}

extension ControlRequest {
    struct JobParams: Codable {
        var id: String
    }

    struct LedgerParams: Codable {
        var account: String?
    }

    /// Decodes the parameters of `method` from the `params` member (absent when `container` is nil).
    static func decode(
        method: ControlMethod,
        params container: KeyedDecodingContainer<ControlEnvelopeKey>?
    ) throws -> ControlRequest {
        func params<P: Decodable>(_ type: P.Type) throws -> P {
            guard let container, container.contains(.params) else {
                throw ControlError(.malformedRequest, "method \(method.rawValue) needs \"params\"")
            }
            return try container.decode(P.self, forKey: .params)
        }
        switch method {
        case .status: return .status
        case .jobs: return .jobs
        case .accounts: return .accounts
        case .plugins: return .plugins
        case .pluginsReload: return .pluginsReload
        case .job: return .job(id: try params(JobParams.self).id)
        case .watch: return .watch(id: try params(JobParams.self).id)
        case .cancel: return .cancel(id: try params(JobParams.self).id)
        case .ledger:
            guard let container, container.contains(.params) else { return .ledger(account: nil) }
            return .ledger(account: try container.decode(LedgerParams.self, forKey: .params).account)
        case .submitBegin: return .submitBegin(try params(SubmitBegin.self))
        case .submitChunk: return .submitChunk(try params(SubmitChunk.self))
        case .submitEnd: return .submitEnd(try params(SubmitEnd.self))
        }
    }

    /// Encodes the parameters, if the request has any, as the `params` member.
    func encodeParams(into container: inout KeyedEncodingContainer<ControlEnvelopeKey>) throws {
        switch self {
        case .status, .jobs, .accounts, .plugins, .pluginsReload:
            return
        case .job(let id), .watch(let id), .cancel(let id):
            try container.encode(JobParams(id: id), forKey: .params)
        case .ledger(let account):
            try container.encode(LedgerParams(account: account), forKey: .params)
        case .submitBegin(let begin):
            try container.encode(begin, forKey: .params)
        case .submitChunk(let chunk):
            try container.encode(chunk, forKey: .params)
        case .submitEnd(let end):
            try container.encode(end, forKey: .params)
        }
    }
}

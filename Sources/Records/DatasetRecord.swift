// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One line of a dataset (DESIGN §3.2), in either of its two shapes.
public struct DatasetRecord: Sendable, Hashable {
    /// The speaker of one chat turn.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case system, user, assistant
    }

    public struct Message: Sendable, Hashable {
        public var role: Role
        public var content: String

        public init(role: Role, content: String) {
            self.role = role
            self.content = content
        }
    }

    public enum Body: Sendable, Hashable {
        /// `{"instruction", "input"?, "output"}`.
        case instruction(instruction: String, input: String?, output: String)
        /// `{"messages": [...]}`, holding at least one assistant message.
        case chat([Message])
    }

    public var body: Body
    /// The sub-task, for multi-task training; `nil` means the dataset's only task.
    public var task: String?
    /// The privacy unit (e.g. a user id) when DP is per unit rather than per record.
    public var unit: String?

    public init(body: Body, task: String? = nil, unit: String? = nil) {
        self.body = body
        self.task = task
        self.unit = unit
    }

    /// The target: the `output` field, or the last assistant message of a chat.
    ///
    /// For `classify` this is the label that must be declared in the manifest.
    public var output: String {
        switch body {
        case .instruction(_, _, let output):
            return output
        case .chat(let messages):
            // The parser guarantees an assistant message; an empty target would be refused
            // as an undeclared label rather than crash.
            return messages.last { $0.role == .assistant }?.content ?? ""
        }
    }

    /// Parses one line (without its newline).
    ///
    /// - Parameters:
    ///   - line: the UTF-8 bytes of one JSON object.
    ///   - lineNumber: the 1-based line, attached to any error.
    /// - Throws: ``IntakeError`` with code `invalid_json`, `not_an_object`, `missing_field`,
    ///   `invalid_field`, `unknown_role` or `missing_assistant_message`.
    public static func parse(_ line: Data, lineNumber: Int? = nil) throws(IntakeError) -> DatasetRecord {
        // As for manifests: decoders disagree on a repeated key (ours kept the first `output`,
        // many keep the last), and deep nesting costs the decoder far more than its size.
        // Neither message names the key: a record's contents stay out of the journal.
        switch JSONValue.structureRefusal(of: line, depthLimit: JSONValue.maximumDepth) {
        case .duplicateKey?:
            throw IntakeError(.invalidJSON, "an object holds a key twice; readers disagree on which value counts", line: lineNumber)
        case .nestingTooDeep(let limit)?:
            throw IntakeError(.invalidJSON, "nests arrays and objects more than \(limit) levels deep", line: lineNumber)
        case nil:
            break
        }
        do {
            return try JSONDecoder().decode(WireRecord.self, from: line).record()
        } catch let error as IntakeError {
            throw lineNumber.map(error.at(line:)) ?? error
        } catch let error as DecodingError {
            throw IntakeError(error: error, line: lineNumber)
        } catch {
            throw IntakeError(.invalidJSON, "not valid JSON: \(error)", line: lineNumber)
        }
    }
}

extension IntakeError {
    /// Maps Foundation's decoding failures to intake codes, naming the field at fault.
    fileprivate init(error: DecodingError, line: Int?) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(.missingField, "missing field \"\(Self.path(context.codingPath + [key]))\"", line: line)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            if context.codingPath.isEmpty {
                self.init(.notAnObject, "a record must be a JSON object", line: line)
            } else {
                self.init(
                    .invalidField,
                    "field \"\(Self.path(context.codingPath))\" must be \(Self.expectedType(at: context.codingPath))",
                    line: line)
            }
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            self.init(.invalidJSON, "not valid JSON: \(underlying)", line: line)
        @unknown default:
            self.init(.invalidJSON, "not valid JSON: \(error)", line: line)
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            .trimmingPrefix(".").description
    }

    private static func expectedType(at path: [any CodingKey]) -> String {
        guard let last = path.last else { return "an object" }
        if last.intValue != nil { return "an object with \"role\" and \"content\"" }
        switch last.stringValue {
        case "messages": return "an array of messages"
        case "unit": return "a string or an integer"
        default: return "a string"
        }
    }
}

/// The record exactly as it appears on the wire, before shape checks.
private struct WireRecord: Decodable {
    var instruction: String?
    var input: String?
    var output: String?
    var messages: [WireMessage]?
    var task: String?
    var unit: String?

    private enum CodingKeys: String, CodingKey {
        case instruction, input, output, messages, task, unit
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        instruction = try container.decodeIfPresent(String.self, forKey: .instruction)
        input = try container.decodeIfPresent(String.self, forKey: .input)
        output = try container.decodeIfPresent(String.self, forKey: .output)
        messages = try container.decodeIfPresent([WireMessage].self, forKey: .messages)
        task = try container.decodeIfPresent(String.self, forKey: .task)
        // A numeric user id is as good a privacy unit as a string one.
        if let number = try? container.decodeIfPresent(Int64.self, forKey: .unit) {
            unit = String(number)
        } else {
            unit = try container.decodeIfPresent(String.self, forKey: .unit)
        }
    }

    func record() throws(IntakeError) -> DatasetRecord {
        let body: DatasetRecord.Body
        switch (messages, instruction) {
        case (.some, .some):
            throw IntakeError(.invalidField, "a record has either \"messages\" or \"instruction\", not both")
        case (nil, nil):
            throw IntakeError(.missingField, "missing field \"instruction\" (or \"messages\" for a chat record)")
        case (nil, .some(let instruction)):
            guard let output else { throw IntakeError(.missingField, "missing field \"output\"") }
            body = .instruction(instruction: instruction, input: input, output: output)
        case (.some(let messages), nil):
            if output != nil || input != nil {
                throw IntakeError(
                    .invalidField, "a chat record carries its answer in \"messages\", not in \"input\"/\"output\"")
            }
            body = .chat(try Self.chat(messages))
        }
        if let task, task.isEmpty { throw IntakeError(.invalidField, "field \"task\" must not be empty") }
        if let unit, unit.isEmpty { throw IntakeError(.invalidField, "field \"unit\" must not be empty") }
        return DatasetRecord(body: body, task: task, unit: unit)
    }

    private static func chat(_ wire: [WireMessage]) throws(IntakeError) -> [DatasetRecord.Message] {
        var messages: [DatasetRecord.Message] = []
        messages.reserveCapacity(wire.count)
        for (index, message) in wire.enumerated() {
            guard let role = DatasetRecord.Role(rawValue: message.role) else {
                let known = DatasetRecord.Role.allCases.map(\.rawValue).joined(separator: ", ")
                // The role a record holds is private data and is not echoed.
                throw IntakeError(.unknownRole, "messages[\(index)].role is not one of \(known)")
            }
            messages.append(DatasetRecord.Message(role: role, content: message.content))
        }
        guard messages.contains(where: { $0.role == .assistant }) else {
            throw IntakeError(.missingAssistantMessage, "a chat record needs at least one assistant message")
        }
        return messages
    }
}

private struct WireMessage: Decodable {
    var role: String
    var content: String
}

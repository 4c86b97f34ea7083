// SPDX-License-Identifier: Apache-2.0

/// One turn of a conversation, as chat templates take it.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// The speakers ChatML knows; a closed set for the templates we render.
    public enum Role: String, Sendable, Hashable, Codable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }
}

// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Testing

@Suite struct DatasetRecordTests {
    private func parse(_ text: String) throws(IntakeError) -> DatasetRecord {
        try DatasetRecord.parse(Data(text.utf8), lineNumber: 7)
    }

    @Test func instructionForm() throws {
        let record = try parse(
            #"{"instruction": "Classify.", "input": "great film", "output": "positive", "task": "sentiment", "unit": "user-17"}"#)
        #expect(record.body == .instruction(instruction: "Classify.", input: "great film", output: "positive"))
        #expect(record.output == "positive")
        #expect(record.task == "sentiment")
        #expect(record.unit == "user-17")
    }

    @Test func optionalFieldsMayBeAbsentAndUnitMayBeANumber() throws {
        let record = try parse(#"{"instruction": "Say hi.", "output": "hi", "unit": 17}"#)
        #expect(record.body == .instruction(instruction: "Say hi.", input: nil, output: "hi"))
        #expect(record.task == nil)
        #expect(record.unit == "17")
    }

    @Test func chatOutputIsTheLastAssistantMessage() throws {
        let record = try parse(#"""
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Mood?"},
             {"role": "assistant", "content": "first"}, {"role": "user", "content": "Again?"},
             {"role": "assistant", "content": "negative"}], "task": "sentiment"}
            """#.replacingOccurrences(of: "\n", with: " "))
        guard case .chat(let messages) = record.body else {
            Issue.record("expected a chat record")
            return
        }
        #expect(messages.map(\.role) == [.system, .user, .assistant, .user, .assistant])
        #expect(record.output == "negative")
    }

    @Test(arguments: [
        (#"{"instruction": "x", "output": "#, IntakeError.Code.invalidJSON),
        (#"{"instruction": "x" "output": "y"}"#, .invalidJSON),
        (#"["instruction", "output"]"#, .notAnObject),
        ("42", .notAnObject),
        (#""text""#, .notAnObject),
        (#"{"instruction": "x"}"#, .missingField),
        (#"{"output": "y"}"#, .missingField),
        (#"{"messages": [{"role": "user"}]}"#, .missingField),
        (#"{"instruction": "x", "output": 1}"#, .invalidField),
        (#"{"instruction": "x", "input": ["a"], "output": "y"}"#, .invalidField),
        (#"{"instruction": "x", "output": "y", "task": ""}"#, .invalidField),
        (#"{"messages": "hello"}"#, .invalidField),
        (#"{"messages": [{"role": "assistant", "content": "a"}], "instruction": "x"}"#, .invalidField),
        (#"{"messages": [{"role": "robot", "content": "beep"}, {"role": "assistant", "content": "a"}]}"#, .unknownRole),
        (#"{"messages": [{"role": "user", "content": "hello"}]}"#, .missingAssistantMessage),
        (#"{"messages": []}"#, .missingAssistantMessage),
    ])
    func malformedRecordsGetSpecificCodes(text: String, code: IntakeError.Code) {
        #expect {
            _ = try parse(text)
        } throws: { error in
            guard let error = error as? IntakeError else { return false }
            return error.code == code && error.line == 7 && !error.message.isEmpty
        }
    }

    @Test func errorsNameTheField() throws {
        let missing = #expect(throws: IntakeError.self) { try parse(#"{"messages": [{"content": "x"}]}"#) }
        #expect(missing?.message.contains("messages[0].role") == true)
        let mistyped = #expect(throws: IntakeError.self) { try parse(#"{"instruction": "x", "output": true}"#) }
        #expect(mistyped?.message.contains("\"output\"") == true)
        let role = #expect(throws: IntakeError.self) {
            try parse(#"{"messages": [{"role": "bot", "content": "x"}]}"#)
        }
        #expect(role?.message.contains("messages[0].role") == true)
        #expect(role?.message.contains("bot") == false, "the record's value is private and not echoed")
    }
}

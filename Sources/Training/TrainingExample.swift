// SPDX-License-Identifier: Apache-2.0

/// One record as the model sees it: token ids and what the loss compares them with.
public struct TrainingExample: Sendable, Hashable {
    public var ids: [Int32]
    /// BERT token types; empty for decoders.
    public var tokenTypeIDs: [Int32]
    /// The index of the record's task in the job's sorted task list.
    public var task: Int
    /// What the loss targets.
    public var target: Target
    /// The index of the record's privacy unit (its record index under per-record privacy).
    public var unit: Int

    public enum Target: Sendable, Hashable {
        /// The label's index in the task's declared label list.
        case label(Int)
        /// Which positions are response tokens (the loss predicts each from the one before).
        case response(isResponse: [Bool])
    }

    public init(ids: [Int32], tokenTypeIDs: [Int32], task: Int, target: Target, unit: Int) {
        self.ids = ids
        self.tokenTypeIDs = tokenTypeIDs
        self.task = task
        self.target = target
        self.unit = unit
    }

    /// The label index of a classification example.
    public var label: Int? {
        switch target {
        case .label(let label): return label
        case .response: return nil
        }
    }
}

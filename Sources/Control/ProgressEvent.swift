// SPDX-License-Identifier: Apache-2.0

/// One progress report of a running job, streamed to `watch`.
///
/// Events are snapshots: a slow reader may miss some, never receive them out of order.
public struct ProgressEvent: Sendable, Hashable, Codable {
    public var jobID: String
    public var state: JobState
    public var step: Int
    public var totalSteps: Int
    /// Training loss of the last step, once one has run.
    public var loss: Double?
    public var epsilonSpent: Double
    public var examplesPerSecond: Double

    public init(
        jobID: String, state: JobState, step: Int, totalSteps: Int, loss: Double? = nil,
        epsilonSpent: Double, examplesPerSecond: Double
    ) {
        self.jobID = jobID
        self.state = state
        self.step = step
        self.totalSteps = totalSteps
        self.loss = loss
        self.epsilonSpent = epsilonSpent
        self.examplesPerSecond = examplesPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case state, step, loss
        case jobID = "job_id"
        case totalSteps = "total_steps"
        case epsilonSpent = "epsilon_spent"
        case examplesPerSecond = "examples_per_second"
    }
}

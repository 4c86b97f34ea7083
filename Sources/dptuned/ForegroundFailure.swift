// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Training

/// Why `train` or `predict` stopped when the command line was not at fault.
///
/// ArgumentParser ends a `ValidationError` with its usage text and status 64 (EX_USAGE),
/// which blames arguments that were fine when it was the manifest, the dataset or the
/// ledger that refused the job. A script needs to tell refused input, which no retry fixes,
/// from a run that failed: the first ends with 65 (EX_DATAERR of sysexits.h), the second
/// with 1, as ArgumentParser ends any other error.
struct ForegroundFailure: Error, CustomStringConvertible {
    enum Status: Int32 {
        /// The job's input was refused before anything trained: the manifest, the dataset,
        /// the plan they make, the ledger, or an adapter that does not fit its backbone.
        case refused = 65
        case failed = 1
    }

    let status: Status
    let description: String

    static func refused(_ message: String) -> ForegroundFailure {
        ForegroundFailure(status: .refused, description: message)
    }

    static func failed(_ message: String) -> ForegroundFailure {
        ForegroundFailure(status: .failed, description: message)
    }

    /// Runs a command's work and ends any error it throws with one line, `Error: …`, on
    /// standard error and that error's ``status(of:)``.
    static func reporting(_ work: () throws -> Void) throws {
        do {
            try work()
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(status(of: error).rawValue)
        }
    }

    /// `.refused` for what the training library refuses in a job's input (a record, the
    /// settings, a plan), `.failed` for anything else it throws.
    static func status(of error: any Error) -> Status {
        switch error {
        case let failure as ForegroundFailure: failure.status
        case is TrainingPlanError: .refused
        case let error as TrainingError where error.code == .invalidRecord || error.code == .invalidConfiguration: .refused
        default: .failed
        }
    }
}

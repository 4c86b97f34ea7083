// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
#if canImport(Glibc)
import Glibc
#endif

/// Takes one name from `incoming/` to `accepted/` or `rejected/`.
///
/// The whole intake of DESIGN §3.1 in one place: check the name and file type, parse the
/// manifest (or apply the defaults), stream-validate the dataset against it and the policy,
/// then move it. Every refusal ends in `rejected/` with its ``IntakeError``; nothing is lost.
/// A check cut short because the daemon is stopping is no refusal: the dataset stays put.
public struct SpoolIntake: Sendable {
    /// A dataset now in `accepted/`, ready for admission by the ledger.
    public struct Accepted: Sendable, Hashable {
        /// Its name in `accepted/`.
        public let name: String
        public let manifest: Manifest
        public let summary: DatasetSummary
    }

    public enum Outcome: Sendable, Hashable {
        case accepted(Accepted)
        /// Moved to `rejected/` under `name` beside its error file.
        case rejected(name: String, error: IntakeError)
        /// Nothing to do: the name is gone, or a manifest still waits for its dataset.
        case ignored
        /// Left in `incoming/`: the daemon stopped while the policy was checking it
        /// (``IntakeError/Code/intakeStopped``), so the next start takes it again.
        case stopped
        /// Left in `incoming/`: the policy could not check it for a cause of the host
        /// (``IntakeError/Code/intakeDeferred``), so it is to be tried again.
        case deferred(IntakeError)
    }

    public let spool: SpoolDirectory
    public let validator: DatasetValidator
    public let defaults: ManifestDefaults
    public let policy: any IntakePolicy

    public init(spool: SpoolDirectory, validator: DatasetValidator, defaults: ManifestDefaults, policy: any IntakePolicy) {
        self.spool = spool
        self.validator = validator
        self.defaults = defaults
        self.policy = policy
    }

    /// Processes the name `name` reported in `incoming/` (by the watcher or a scan).
    ///
    /// - Throws: ``SpoolError`` when the spool itself fails (a rename or fsync); the file is
    ///   then still where it was.
    public func process(_ name: String) throws(SpoolError) -> Outcome {
        var entry: SpoolDirectory.Entry?
        do {
            entry = try spool.entry(named: name)
            guard let entry else { return .ignored }
            let manifest = try spool.manifestData(of: entry, in: .incoming)
                .map { data throws(IntakeError) in try Manifest.parse(data, defaults: defaults) }
                ?? Manifest(defaults: defaults)
            let descriptor = try spool.openDataset(entry, in: .incoming)
            defer { close(descriptor) }
            let summary = try validator.validate(fileDescriptor: descriptor, manifest: manifest, policy: policy)
            let accepted = try spool.accept(entry.name)
            return .accepted(Accepted(name: accepted, manifest: manifest, summary: summary))
        } catch let error as IntakeError where error.code == .intakeStopped {
            return .stopped
        } catch let error as IntakeError where error.code == .intakeDeferred {
            return .deferred(error)
        } catch let error as IntakeError {
            do throws(SpoolError) {
                let rejected = try spool.reject(entry?.name ?? name, error: error)
                return .rejected(name: rejected, error: error)
            } catch let failure where failure.code == .noSuchEntry {
                // Gone since it was read: nothing to reject, as when it was gone before.
                return .ignored
            }
        } catch let error as SpoolError {
            if error.code == .noSuchEntry { return .ignored }
            throw error
        } catch {
            throw SpoolError(.systemCallFailed, "intake of \(SpoolName.quoted(name)) failed: \(error)")
        }
    }
}

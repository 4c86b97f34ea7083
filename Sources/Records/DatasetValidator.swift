// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks a JSON Lines dataset against its manifest and the daemon's policy, streaming.
///
/// The file is read once, in chunks, with a bounded line length, so a hostile file (one
/// 100 MB line, gigabytes of records) costs bounded memory and is refused with a specific
/// code. The first fault found is reported; nothing is modified.
public struct DatasetValidator: Sendable {
    /// The longest line accepted, in bytes.
    public var maxLineLength: Int
    /// The most records accepted in one dataset.
    public var maxRecords: Int
    /// Bytes per `read(2)`.
    public var chunkSize: Int

    public init(maxLineLength: Int = 1 << 20, maxRecords: Int = 10_000_000, chunkSize: Int = 1 << 16) {
        self.maxLineLength = maxLineLength
        self.maxRecords = maxRecords
        self.chunkSize = chunkSize
    }

    /// Validates the dataset at `path`, refusing to follow a symbolic link.
    ///
    /// - Throws: ``IntakeError``; `not_a_regular_file` when `path` is a link, FIFO, device or directory.
    public func validate(path: String, manifest: Manifest, policy: some IntakePolicy) throws(IntakeError) -> DatasetSummary {
        // O_NONBLOCK: opening a FIFO must not hang the daemon waiting for a writer.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let error = errno
            if error == ELOOP {
                throw IntakeError(.notARegularFile, "\(path) is a symbolic link; refusing to follow it")
            }
            throw IntakeError(.readFailed, "cannot open \(path): \(String(cString: strerror(error)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw IntakeError(.notARegularFile, "\(path) is not a regular file")
        }
        return try validate(fileDescriptor: descriptor, manifest: manifest, policy: policy)
    }

    /// Validates the dataset read from `fileDescriptor` (from its current offset to its end).
    ///
    /// Checks, in order: the manifest's account, backbone and strategy against `policy`; each
    /// line (length, UTF-8, JSON, record shape, task and label, unit); the record limit; an
    /// empty dataset; δ < 1/N; the expected batch against N; and last the budget.
    ///
    /// - Parameters:
    ///   - fileDescriptor: open for reading; not closed.
    ///   - manifest: the parsed manifest, defaults applied.
    ///   - policy: the daemon's registry, plugins, accounts and budgets.
    /// - Returns: the content hash and sizes.
    /// - Throws: ``IntakeError`` with the first fault found.
    public func validate(
        fileDescriptor: Int32, manifest: Manifest, policy: some IntakePolicy
    ) throws(IntakeError) -> DatasetSummary {
        try checkNames(manifest, policy)
        let labelSets = manifest.labels.mapValues(Set.init)
        let reader = LineReader(fileDescriptor: fileDescriptor, maxLineLength: maxLineLength, chunkSize: chunkSize)
        var recordCount = 0
        var units: Set<String> = []
        var taskCounts: [String: Int] = [:]
        while let line = try reader.next() {
            guard let bytes = line.recordBytes else { continue }
            guard String(validating: bytes, as: UTF8.self) != nil else {
                throw IntakeError(.invalidUTF8, "line \(line.number) is not valid UTF-8", line: line.number)
            }
            let record = try DatasetRecord.parse(Data(bytes), lineNumber: line.number)
            recordCount += 1
            guard recordCount <= maxRecords else {
                throw IntakeError(
                    .tooManyRecords, "the dataset has more than the limit of \(maxRecords) records", line: line.number)
            }
            let task = try resolveTask(record, manifest: manifest, labelSets: labelSets, line: line.number)
            taskCounts[task, default: 0] += 1
            if let unit = record.unit {
                units.insert(unit)
            } else if manifest.privacy.unit == .unit {
                throw IntakeError(
                    .missingUnit, "privacy.unit is \"unit\" but line \(line.number) has no \"unit\" field",
                    line: line.number)
            }
        }
        guard recordCount > 0 else {
            throw IntakeError(.emptyDataset, "the dataset has no records (\(reader.byteCount) bytes, blank lines only)")
        }
        let privacyUnitCount = manifest.privacy.unit == .unit ? units.count : recordCount
        let summary = DatasetSummary(
            sha256: reader.sha256, byteCount: reader.byteCount, recordCount: recordCount,
            unitCount: units.count, taskCounts: taskCounts, privacyUnitCount: privacyUnitCount)
        try checkSize(summary, manifest)
        try policy.admit(account: manifest.account, manifest: manifest, dataset: summary)
        return summary
    }

    private func checkNames(_ manifest: Manifest, _ policy: some IntakePolicy) throws(IntakeError) {
        func known(_ value: String, in set: Set<String>, _ what: String) -> String? {
            if set.contains(value) { return nil }
            let list = set.sorted().joined(separator: ", ")
            return "\(what) \"\(value)\" is not known (known: \(list.isEmpty ? "none" : list))"
        }
        if let message = known(manifest.account, in: policy.knownAccounts, "account") {
            throw IntakeError(.unknownAccount, message)
        }
        if let message = known(manifest.backbone, in: policy.knownBackbones, "backbone") {
            throw IntakeError(.unknownBackbone, message)
        }
        if let file = policy.withdrawnStrategies[manifest.strategy], !policy.knownStrategies.contains(manifest.strategy) {
            throw IntakeError(
                .unknownStrategy,
                "strategy \"\(manifest.strategy)\" was withdrawn: its plugin file \(file) no longer provides it (removed or replaced), so it takes no new job")
        }
        if let message = known(manifest.strategy, in: policy.knownStrategies, "strategy") {
            throw IntakeError(.unknownStrategy, message)
        }
    }

    /// The record's task, checked against the declared labels for `classify`.
    ///
    /// A record without a task belongs to the only declared task when there is exactly one.
    private func resolveTask(
        _ record: DatasetRecord, manifest: Manifest, labelSets: [String: Set<String>], line: Int
    ) throws(IntakeError) -> String {
        guard manifest.objective == .classify else { return record.task ?? DatasetSummary.untaskedKey }
        let task: String
        if let named = record.task {
            task = named
        } else if labelSets.count == 1, let only = labelSets.keys.first {
            task = only
        } else {
            throw IntakeError(
                .undeclaredTask,
                "line \(line) has no \"task\" and the manifest declares \(labelSets.count) tasks",
                line: line)
        }
        guard let labels = labelSets[task] else {
            let declared = labelSets.keys.sorted().joined(separator: ", ")
            // The task names declared are public; the record's own is private data and is not echoed.
            throw IntakeError(
                .undeclaredTask, "the record's task is not one of the declared tasks (\(declared))", line: line)
        }
        guard labels.contains(record.output) else {
            // The label set is public; the offending output is private data and is not echoed.
            throw IntakeError(
                .undeclaredLabel,
                "line \(line): the output is not one of the \(labels.count) labels declared for task \"\(task)\"",
                line: line)
        }
        return task
    }

    private func checkSize(_ summary: DatasetSummary, _ manifest: Manifest) throws(IntakeError) {
        let n = summary.privacyUnitCount
        if let refusal = summary.deltaRefusal(manifest.privacy.delta, subject: "privacy.delta \(manifest.privacy.delta)",
                                              unit: manifest.privacy.unit) {
            throw refusal
        }
        if manifest.train.expectedBatch > n {
            throw IntakeError(
                .invalidManifest,
                "\"train.expected_batch\" \(manifest.train.expectedBatch) exceeds the dataset's \(n) \(manifest.privacy.unit.plural)")
        }
    }

}

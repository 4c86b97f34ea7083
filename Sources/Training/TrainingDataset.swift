// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records

/// A dataset's records and the privacy unit of each, read with the validator's line rules.
public struct TrainingDataset: Sendable {
    public let records: [DatasetRecord]
    /// Each record's unit, numbered `0..<unitCount` in order of first appearance; under
    /// per-record privacy every record is its own unit.
    public let unitOfRecord: [Int]
    public let unitCount: Int
    /// Each record's line in its file, for the errors that name it.
    public let lineOfRecord: [Int]
    /// The SHA-256 of the file's bytes, as the validator computes it; nil for records not read from a file.
    public private(set) var sha256: String?

    /// - Parameter lines: each record's line in its file; by default its position.
    public init(records: [DatasetRecord], lines: [Int]? = nil, privacyUnit: Manifest.PrivacyUnit) throws(TrainingError) {
        let lines = lines ?? Array(records.indices.map { $0 + 1 })
        var units: [String: Int] = [:]
        var unitOfRecord: [Int] = []
        unitOfRecord.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            switch privacyUnit {
            case .record:
                unitOfRecord.append(index)
            case .unit:
                guard let unit = record.unit else {
                    throw TrainingError(.invalidRecord, "line \(lines[index]): the record has no \"unit\" but privacy is per unit")
                }
                if units[unit] == nil { units[unit] = units.count }
                unitOfRecord.append(units[unit] ?? 0)
            }
        }
        self.records = records
        self.lineOfRecord = lines
        self.unitOfRecord = unitOfRecord
        self.unitCount = privacyUnit == .record ? records.count : units.count
    }

    /// Reads a JSON Lines file with the validator's line rules (``LineReader/Line/recordBytes``)
    /// and hashes it as the validator does.
    public static func read(path: String, privacyUnit: Manifest.PrivacyUnit) throws -> TrainingDataset {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw TrainingError(.invalidRecord, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let reader = LineReader(fileDescriptor: descriptor, maxLineLength: 1 << 24)
        var records: [DatasetRecord] = []
        var lines: [Int] = []
        while let line = try reader.next() {
            guard let bytes = line.recordBytes else { continue }
            records.append(try DatasetRecord.parse(Data(bytes), lineNumber: line.number))
            lines.append(line.number)
        }
        var dataset = try TrainingDataset(records: records, lines: lines, privacyUnit: privacyUnit)
        dataset.sha256 = reader.sha256
        return dataset
    }

    /// The records of some units, with those units renumbered `0..<units.count`, and their lines.
    public func subset(units: [Int]) -> (records: [DatasetRecord], unitOfRecord: [Int], lines: [Int]) {
        var slot = [Int: Int]()
        for (index, unit) in units.enumerated() { slot[unit] = index }
        var chosen: [DatasetRecord] = []
        var renumbered: [Int] = []
        var lines: [Int] = []
        for (position, (record, unit)) in zip(records, unitOfRecord).enumerated() {
            if let index = slot[unit] {
                chosen.append(record)
                renumbered.append(index)
                lines.append(lineOfRecord[position])
            }
        }
        return (chosen, renumbered, lines)
    }
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Transformer

/// The published files of one adapter (DESIGN §3.5), written so that a reader never sees
/// half of them: into a temporary sibling directory, then renamed into place.
public enum AdapterArtifacts {
    public static let weightsFile = "adapter_model.safetensors"
    public static let configurationFile = "adapter_config.json"
    public static let modelCardFile = "model_card.json"
    public static let reportSVGFile = "report.svg"
    public static let reportHTMLFile = "report.html"

    /// Writes weights, the strategy's configuration, the card and the report into
    /// `directory`, which must not exist yet.
    public static func write(parameters: TrainableParameters, configuration: [String: ConfigurationValue],
                             card: ModelCard, report: TrainingReport, to directory: URL) throws {
        let manager = FileManager.default
        let staging = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).partial-\(getpid())")
        try? manager.removeItem(at: staging)
        do {
            try manager.createDirectory(at: staging, withIntermediateDirectories: true)
            try SafetensorsFile.write(parameters.namedTensors(), metadata: ["format": "pt", "dptune_job": card.jobID],
                                      to: staging.appendingPathComponent(weightsFile))
            try jsonData(.object(configuration)).write(to: staging.appendingPathComponent(configurationFile))
            try card.jsonData().write(to: staging.appendingPathComponent(modelCardFile))
            try Data(report.svg.utf8).write(to: staging.appendingPathComponent(reportSVGFile))
            try Data(report.html.utf8).write(to: staging.appendingPathComponent(reportHTMLFile))
            // The daemon commits the charge and reports the adapter once this returns: after a
            // power loss the result must not point at a missing or empty adapter.
            for file in [weightsFile, configurationFile, modelCardFile, reportSVGFile, reportHTMLFile] {
                try FileSync.sync(staging.appendingPathComponent(file).path)
            }
            try FileSync.sync(staging.path)
            try manager.moveItem(at: staging, to: directory)
        } catch {
            // Half an adapter is of no use, and on a full disk it holds the room a retry needs.
            try? manager.removeItem(at: staging)
            throw error
        }
        try FileSync.sync(directory.deletingLastPathComponent().path)
    }

    /// Whether `directory` holds the published adapter of job `jobID`: its model card names
    /// the job. Only the card's job id is read, so a card of another format still counts.
    ///
    /// A worker restarted after the daemon died between publication and settlement must not
    /// train again, and the daemon's start-up repair records the adapter's path: both ask here.
    public static func isPublished(job jobID: String, in directory: URL) -> Bool {
        struct JobOfCard: Decodable {
            let jobID: String
            enum CodingKeys: String, CodingKey { case jobID = "job_id" }
        }
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(modelCardFile)),
              let card = try? JSONDecoder().decode(JobOfCard.self, from: data) else { return false }
        return card.jobID == jobID
    }

    /// Fills `parameters` (declared and sealed) from a published weights file by segment name.
    ///
    /// - Throws: ``AdapterError`` `.incompatibleParameters` for a missing, extra or misshapen
    ///   tensor; ``TrainingError`` `.artifactUnreadable` for weights that are not finite
    ///   (published by a run that diverged, before such runs failed), which predict nothing.
    public static func load(_ parameters: TrainableParameters, from directory: URL) throws {
        try parameters.load(from: SafetensorsFile(url: directory.appendingPathComponent(weightsFile)))
        guard parameters.flatValues.allSatisfy(\.isFinite) else {
            throw TrainingError(.artifactUnreadable, "the adapter's weights in \(directory.path) hold values that are not finite: its training diverged, and it cannot predict")
        }
    }

    static func jsonData(_ value: ConfigurationValue) throws -> Data {
        try JSONSerialization.data(withJSONObject: foundationObject(value), options: [.prettyPrinted, .sortedKeys])
    }

    private static func foundationObject(_ value: ConfigurationValue) -> Any {
        switch value {
        case .null: NSNull()
        case .boolean(let flag): flag
        case .integer(let integer): integer
        case .number(let number): number
        case .string(let string): string
        case .array(let elements): elements.map(foundationObject)
        case .object(let members): members.mapValues(foundationObject)
        }
    }
}

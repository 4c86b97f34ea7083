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

    /// Writes weights, the strategy's configuration and the card into `directory`, which
    /// must not exist yet.
    public static func write(parameters: TrainableParameters, configuration: [String: ConfigurationValue],
                             card: ModelCard, to directory: URL) throws {
        let manager = FileManager.default
        let staging = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).partial-\(getpid())")
        try? manager.removeItem(at: staging)
        try manager.createDirectory(at: staging, withIntermediateDirectories: true)
        var tensors: [String: Tensor] = [:]
        for (g, segment) in parameters.segments.enumerated() {
            tensors[segment.name] = Tensor(shape: segment.shape, copying: parameters.values(g))
        }
        try SafetensorsFile.write(tensors, metadata: ["format": "pt", "dptune_job": card.jobID],
                                  to: staging.appendingPathComponent(weightsFile))
        try jsonData(.object(configuration)).write(to: staging.appendingPathComponent(configurationFile))
        try card.jsonData().write(to: staging.appendingPathComponent(modelCardFile))
        try manager.moveItem(at: staging, to: directory)
    }

    /// Fills `parameters` (declared and sealed) from a published weights file by segment name.
    ///
    /// - Throws: ``AdapterError`` `.incompatibleParameters` for a missing tensor or a wrong shape.
    public static func load(_ parameters: TrainableParameters, from directory: URL) throws {
        let file = try SafetensorsFile(url: directory.appendingPathComponent(weightsFile))
        for (g, segment) in parameters.segments.enumerated() {
            guard file.entries[segment.name] != nil else {
                throw AdapterError(.incompatibleParameters, "\(file.url.path) has no tensor \(segment.name)")
            }
            let tensor = try file.tensor(segment.name)
            guard tensor.shape == segment.shape else {
                throw AdapterError(.incompatibleParameters,
                                   "\(segment.name) has shape \(tensor.shape) in \(file.url.lastPathComponent); the adapter expects \(segment.shape)")
            }
            tensor.withUnsafeBufferPointer { source in
                parameters.values(g).update(from: source.baseAddress!, count: segment.count)
            }
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

// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Records
import Transformer

/// What a run needs to continue after its process died: the step, the parameters, the
/// optimizer's moments and the σ_eff of every step taken (so the accountant and the
/// model card see the whole run).
///
/// One safetensors file (tensors plus a JSON fingerprint in its metadata), replaced by
/// rename so a crash leaves the previous checkpoint intact. An adaptive strategy's own
/// moving averages are not saved: it restarts them from the next released statistics,
/// which changes utility, never privacy.
struct TrainingCheckpoint: Codable, Equatable {
    var jobID: String
    var step: Int
    var plannedSteps: Int
    var parameterCount: Int
    var noiseMultipliers: [Double]
    var noiseSteps: [Int]
    /// The strategy that wrote it, `id@version`; nil in checkpoints from before it was kept.
    var strategy: String?
    /// The run so far, for the report; nil in checkpoints from before it was kept (the
    /// report of such a resumed run starts at the checkpoint's step).
    var history: TrainingHistory?

    private static let metadataKey = "dptune_checkpoint"

    func write(parameters: UnsafeBufferPointer<Float>, optimizer: AdamW.State, to url: URL) throws {
        let encoder = JSONEncoder()
        // A diverged loss in the history must not make the checkpoint unwritable.
        encoder.nonConformingFloatEncodingStrategy = NonFiniteJSON.encoding
        let fingerprint = String(decoding: try encoder.encode(self), as: UTF8.self)
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        try SafetensorsFile.write(
            ["parameters": Tensor(shape: [parameters.count], data: Array(parameters)),
             "adam.first_moment": Tensor(shape: [optimizer.firstMoment.count], data: optimizer.firstMoment),
             "adam.second_moment": Tensor(shape: [optimizer.secondMoment.count], data: optimizer.secondMoment)],
            metadata: [Self.metadataKey: fingerprint], to: partial)
        try FileSync.sync(partial.path)
        guard rename(partial.path, url.path) == 0 else {
            throw TrainingError(.checkpointMismatch, "cannot move the checkpoint into \(url.path): \(String(cString: strerror(errno)))")
        }
        try FileSync.sync(url.deletingLastPathComponent().path)
    }

    /// Reads a checkpoint and its tensors.
    static func read(from url: URL) throws -> (checkpoint: TrainingCheckpoint, parameters: [Float], optimizer: AdamW.State) {
        let file = try SafetensorsFile(url: url)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = NonFiniteJSON.decoding
        guard let text = file.metadata[metadataKey],
              let checkpoint = try? decoder.decode(TrainingCheckpoint.self, from: Data(text.utf8)) else {
            throw TrainingError(.checkpointMismatch, "\(url.path) is not a dptune checkpoint")
        }
        let optimizer = AdamW.State(step: checkpoint.step, firstMoment: try file.tensor("adam.first_moment").scalars,
                                    secondMoment: try file.tensor("adam.second_moment").scalars)
        return (checkpoint, try file.tensor("parameters").scalars, optimizer)
    }
}

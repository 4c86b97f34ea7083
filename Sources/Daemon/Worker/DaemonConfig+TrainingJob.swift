// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Records
import Spool
import Training

extension DaemonConfig {
    /// The manifest beside the dataset `name` in the spool's `folder`, parsed with this
    /// config's defaults as intake parses it.
    ///
    /// - Throws: ``JobWorkerError`` `.datasetMissing` for a dataset no longer in `folder`;
    ///   the manifest's ``IntakeError``.
    func manifest(ofDataset name: String, in folder: SpoolDirectory.Folder) throws -> Manifest {
        let (spool, entry) = try spoolEntry(named: name, in: folder)
        return try spool.manifestData(of: entry, in: folder)
            .map { data throws(IntakeError) in try Manifest.parse(data, defaults: defaults) }
            ?? Manifest(defaults: defaults)
    }

    /// The training run of the dataset `name` in the spool's `folder` under `manifest`,
    /// holding out `heldOutFraction`, with the strategy in `pluginFile`.
    ///
    /// The worker trains it from `accepted/`; the preflight prepares it from `incoming/`
    /// before admission. One function, so that what preflight accepts is what the worker runs.
    ///
    /// - Throws: ``JobWorkerError`` for a dataset no longer in `folder`, a backbone not in
    ///   `[models]` or a plugin of another strategy; the loader's ``PluginLoadError``.
    func trainingJob(
        id: String, dataset name: String, in folder: SpoolDirectory.Folder, manifest: Manifest,
        heldOutFraction: Double, pluginFile: URL, stagingDirectory: URL, output: URL, ledgerCharge: String? = nil
    ) throws -> TrainingJob {
        let (spool, entry) = try spoolEntry(named: name, in: folder)
        guard let backbone = models[manifest.backbone] else {
            throw JobWorkerError(.unknownBackbone, "backbone \(manifest.backbone) is not in the config's [models]")
        }
        let plugin = try PluginLoader(stagingDirectory: stagingDirectory).load(pluginFile)
        guard plugin.strategy.id == manifest.strategy else {
            throw JobWorkerError(.wrongPlugin, "\(pluginFile.path) provides strategy \(plugin.strategy.id); the manifest names \(manifest.strategy)")
        }
        return TrainingJob(
            jobID: id, manifest: manifest, datasetPath: spool.url(of: folder).appendingPathComponent(entry.name).path,
            backboneDirectory: backbone, strategy: plugin.strategy, outputDirectory: output,
            heldOutFraction: heldOutFraction, ledgerCharge: ledgerCharge)
    }

    /// The spool and the dataset `name`'s entry in `folder`.
    ///
    /// - Throws: ``JobWorkerError`` `.datasetMissing` for a dataset no longer there.
    private func spoolEntry(named name: String, in folder: SpoolDirectory.Folder) throws -> (SpoolDirectory, SpoolDirectory.Entry) {
        let spool = try SpoolDirectory(root: paths.spool)
        guard let entry = try spool.entry(named: name, in: folder) else {
            throw JobWorkerError(.datasetMissing, "the dataset \(name) is not in \(spool.url(of: folder).path)")
        }
        return (spool, entry)
    }
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import ArgumentParser
import Daemon
import Foundation
import Records
import Training

/// `dptuned train`: one job in the foreground, without the daemon (DESIGN §3.6).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one adapter in the foreground; print progress, then the model card.")

    @Argument(help: "The dataset (JSON Lines).")
    var data: String

    @Option(help: "The job's manifest (JSON); anything it leaves out takes the defaults below.")
    var manifest: String?

    @Option(help: "The backbone's Hugging Face model directory, whose name is the backbone id (a manifest naming another is refused); without it, the manifest's backbone id is looked up in --config's [models], and --config's [defaults] fill the manifest.")
    var backbone: String?

    /// Its `--config` (the daemon's file) is read only when `--backbone` is not given.
    @ParentCommand var root: DPTuned

    @Option(help: "Where to publish the adapter (must not exist; default: adapters/JOB_ID in the current directory).")
    var out: String?

    @Option(help: "Directory holding the strategy plugins (default: next to dptuned, then ../lib/dptune/plugins).")
    var plugins: String?

    @Option(help: "Share of records (or units) held out for evaluation, in [0, 0.9] as the daemon's held_out_fraction.")
    var heldOut: Double = DaemonConfig.defaultHeldOutFraction

    @Option(help: "A privacy ledger (e.g. the daemon's) to charge before training: the manifest's account must be in it and afford the job.")
    var ledger: String?

    @Flag(help: "Print the model card as JSON only.")
    var json = false

    func validate() throws {
        guard (0...0.9).contains(heldOut) else {
            throw ValidationError("--held-out must be in [0, 0.9]; found \(heldOut)")
        }
        // Asked before anything is charged or trained: the adapter is written last, never
        // over another, and the run was lost at its end with its charge spent.
        if let out, FileManager.default.fileExists(atPath: out) {
            throw ValidationError("--out \(out) exists; name a path that does not (an adapter is never written over another)")
        }
    }

    func run() throws {
        try ForegroundFailure.reporting(train)
    }

    private func train() throws {
        let source = try BackboneSource(backbone: backbone, configFile: root.config)
        let defaults = source.manifestDefaults
        let parsed: Manifest
        do {
            if let manifest {
                parsed = try Manifest.parse(Data(contentsOf: URL(fileURLWithPath: manifest)), defaults: defaults)
            } else {
                parsed = try Manifest(defaults: defaults)
            }
        } catch {
            throw ForegroundFailure.refused("\(manifest ?? "defaults"): \(error)")
        }
        let backboneDirectory = try source.trainingDirectory(of: parsed.backbone)
        let directories = plugins.map { [URL(fileURLWithPath: $0)] } ?? StrategyLocator.defaultDirectories
        let strategy = try StrategyLocator.load(id: parsed.strategy, directories: directories)
        let jobID = "local-\(UUID().uuidString.prefix(8).lowercased())"
        let outputDirectory = URL(fileURLWithPath: out ?? "adapters/\(jobID)")
        var job = TrainingJob(jobID: jobID, manifest: parsed,
                              datasetPath: data, backboneDirectory: backboneDirectory, strategy: strategy,
                              outputDirectory: outputDirectory, heldOutFraction: heldOut)
        var charge: ForegroundCharge?
        if let ledger {
            do {
                charge = try ForegroundCharge.admit(ledgerFile: URL(fileURLWithPath: ledger), dataset: data, manifest: parsed,
                                                    strategy: strategy, heldOutFraction: heldOut, jobID: job.jobID)
            } catch let error as IntakeError where error.code != .admissionFailed && error.code != .intakeDeferred {
                throw ForegroundFailure.refused("not admitted by the ledger \(ledger), nothing trained: \(error)")
            } catch {
                throw ForegroundFailure.failed("the ledger \(ledger) could not be asked, nothing trained: \(error)")
            }
            charge?.bind(&job)
        }
        let quiet = json
        let started = Date()
        let card: ModelCard
        // A Ctrl-C ends the run after its step and cancels its charge in the ledger, which
        // no one else settles: the daemon leaves a foreground run's admission alone.
        let stop = StopRequest()
        let signalSources = stop.watch([SIGINT, SIGTERM])
        defer { for source in signalSources { source.cancel() } }
        do {
            card = try job.run { progress in
                if stop.requested { return false }
                if !quiet {
                    let elapsed = Date().timeIntervalSince(started)
                    let line = String(format: "step %d/%d  loss %.4f  ε %.3f  %.0fs\n", progress.step, progress.steps,
                                      progress.loss, progress.epsilonSpent, elapsed)
                    FileHandle.standardError.write(Data(line.utf8))
                }
                return true
            } mayPublish: {
                !stop.requested
            }
        } catch {
            try charge?.settle(failure: error)
            throw error
        }
        try charge?.settle(failure: nil)
        FileHandle.standardError.write(Data("published in \(outputDirectory.path)\n".utf8))
        FileHandle.standardOutput.write(try card.jsonData())
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

/// `dptuned predict`: one JSON line per record with the prediction and the label scores.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict with a published adapter; one JSON line per record.")

    @Option(help: "The published adapter directory.")
    var adapter: String

    @Option(help: "The backbone's Hugging Face model directory; without it, the model card's backbone id is looked up in --config's [models].")
    var backbone: String?

    /// Its `--config` (the daemon's file) is read only when `--backbone` is not given.
    @ParentCommand var root: DPTuned

    @Option(help: "Directory holding the strategy plugins.")
    var plugins: String?

    @Argument(help: "Records to predict (JSON Lines, the dataset forms).")
    var data: String

    func run() throws {
        try ForegroundFailure.reporting(predict)
    }

    private func predict() throws {
        let card = try ModelCard.read(from: URL(fileURLWithPath: adapter).appendingPathComponent(AdapterArtifacts.modelCardFile))
        let directories = plugins.map { [URL(fileURLWithPath: $0)] } ?? StrategyLocator.defaultDirectories
        let strategy = try StrategyLocator.load(id: card.strategy.id, directories: directories)
        let backboneDirectory = try BackboneSource(backbone: backbone, configFile: root.config).directory(of: card.backbone.id)
        let predictor = try AdapterPredictor(adapterDirectory: URL(fileURLWithPath: adapter),
                                             backboneDirectory: backboneDirectory, strategy: strategy)
        let records = try TrainingDataset.read(path: data, privacyUnit: .record).records
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for result in try predictor.predict(records) {
            struct Line: Encodable { let task: String; let prediction: String; let scores: [String: Double] }
            var bytes = try encoder.encode(Line(task: result.task, prediction: result.prediction, scores: result.scores))
            bytes.append(0x0A)
            FileHandle.standardOutput.write(bytes)
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Privacy
import Records
import Testing
import TestSupport
@testable import Training

/// A whole job from files to published artifacts, on MiniLM with a head-only strategy.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct TrainingJobTests {
    func job(_ directory: TemporaryDirectory, records: Int = 120, manifest: String = "") throws -> TrainingJob {
        TrainingJob(jobID: "job-1", manifest: try MiniLMFixture.manifest(manifest),
                    datasetPath: try MiniLMFixture.datasetFile(records, in: directory.url),
                    backboneDirectory: MiniLMFixture.directory, strategy: HeadOnlyStrategy(),
                    outputDirectory: directory.url.appendingPathComponent("adapter"), heldOutFraction: 0.25)
    }

    /// The published adapter of `job`, rebuilt from its files alone.
    func predictor(_ job: TrainingJob) throws -> AdapterPredictor {
        try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: MiniLMFixture.directory,
                             strategy: HeadOnlyStrategy())
    }

    /// The card states the plan and an ε the accountant recomputes from its own event;
    /// the predictor rebuilt from the files alone reproduces the held-out accuracy.
    @Test func publishesArtifactsThatPredictAlone() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 2, "expected_batch": 16, "lr": 0.01}"#)
        let card = try job.run()
        let files = try FileManager.default.contentsOfDirectory(atPath: job.outputDirectory.path)
        #expect(Set(files) == [AdapterArtifacts.weightsFile, AdapterArtifacts.configurationFile, AdapterArtifacts.modelCardFile,
                               AdapterArtifacts.reportSVGFile, AdapterArtifacts.reportHTMLFile])
        #expect(card.privacy.steps == 2 * 90 / 16 + 1)
        #expect(card.privacy.populationSize == 90)
        #expect(card.privacy.epsilon <= 8 && card.privacy.epsilon > 7)
        var accountant = PLDAccountant()
        try accountant.compose(card.privacy.event)
        #expect(abs(try accountant.epsilon(delta: 1e-5) - card.privacy.epsilon) < 1e-9)
        #expect(card.trainableParameters == 2 * 384 + 2)
        #expect(card.evaluation.records == 30)
        #expect(card.training.headInit == "random")
        #expect(card.training.instruction == "encode")
        #expect(card.training.padding == "longest")
        #expect(try ModelCard.read(from: job.outputDirectory.appendingPathComponent(AdapterArtifacts.modelCardFile)) == card)

        let predictor = try predictor(job)
        let dataset = try TrainingDataset.read(path: job.datasetPath, privacyUnit: .record)
        let split = HeldOutSplit(memberCount: 120, heldOutFraction: 0.25, seed: job.manifest.train.seed)
        let heldOut = split.heldOut.map { dataset.records[$0] }
        let results = try predictor.predict(heldOut)
        let accuracy = Double(zip(results, heldOut).filter { $0.prediction == $1.output }.count) / Double(heldOut.count)
        #expect(abs(accuracy - (card.evaluation.accuracy["sentiment"] ?? -1)) < 1e-12)
        for result in results { #expect(abs(result.scores.values.reduce(0, +) - 1) < 1e-5) }
    }

    /// A `max_len` beyond the backbone's positions (MiniLM's 512) cuts records at the
    /// positions instead: a 700-token record trains, and the card records 512, which
    /// prediction then uses. Before, the forward pass stopped the process on its
    /// precondition.
    @Test func maxLengthBeyondThePositionsIsCutAtThem() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, records: 40, manifest: #""train": {"epochs": 1, "expected_batch": 16, "lr": 0.01, "max_len": 4096}"#)
        let long = #"{"instruction": "Classify the sentiment of this movie review as positive or negative.", "input": ""#
            + String(repeating: "a truly good film ", count: 200) + #"", "output": "positive", "task": "sentiment"}"#
        let path = directory.url.appendingPathComponent("long.jsonl")
        try (try String(contentsOfFile: job.datasetPath, encoding: .utf8) + long + "\n").write(to: path, atomically: true, encoding: .utf8)
        job.datasetPath = path.path
        #expect(job.manifest.train.maxLen == 4096)
        let prepared = try job.prepare()
        #expect(prepared.maxLength == 512)
        let card = try job.run()
        #expect(card.training.maxLength == 512)
        let results = try predictor(job).predict(try TrainingDataset.read(path: path.path, privacyUnit: .record).records.suffix(1))
        #expect(results.count == 1)
    }

    /// The card records every option the strategy read, defaults included; a later version
    /// of the strategy rebuilds an adapter whose card names all of its options and refuses
    /// one whose card leaves an option out, since its own default might not be the one the
    /// adapter was trained with.
    /// `classify` (the default objective) on a Llama decoder is refused by name before the
    /// backbone is opened; it used to fail on the decoder's tokenizer not being WordPiece.
    @Test func classificationRefusesADecoder() throws {
        let directory = try TemporaryDirectory()
        let job = TrainingJob(jobID: "job-1", manifest: try MiniLMFixture.manifest(),
                              datasetPath: try MiniLMFixture.datasetFile(8, in: directory.url),
                              backboneDirectory: SharedFixtures.url("models/smollm2-135m-instruct"), strategy: HeadOnlyStrategy(),
                              outputDirectory: directory.url.appendingPathComponent("adapter"), heldOutFraction: 0.25)
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("objective classify needs a BERT encoder"))
        #expect(error.message.contains("is a Llama-family decoder (objective generate trains its responses)"))
    }

    /// A job given the plan its charge paid for prepares when it plans the same, and
    /// refuses, naming what differs, when it would plan otherwise.
    @Test func aPlanOtherThanTheChargedOneIsRefused() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory)
        let planned = ChargedPlan(try job.prepare().trainer.plan)
        job.chargedPlan = planned
        _ = try job.prepare()
        var other = planned
        other.steps += 1
        job.chargedPlan = other
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .planMismatch)
        #expect(error.message.contains("(steps \(planned.steps + 1) → \(planned.steps))"), "\(error.message)")
    }

    /// A forward-perturbation job charged for another label share than its build resolves
    /// (the plugin replaced by a build with another default) is refused; a record without
    /// a share is not compared.
    @Test func aForwardPerturbationJobChargedForAnotherLabelShareIsRefused() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory)
        job.strategy = try RealDataTrainingTests.strategy("DPForward")
        let plan = try job.prepare().trainer.plan
        job.chargedPlan = ChargedPlan(plan, labelShare: 0.25)
        _ = try job.prepare()
        job.chargedPlan = ChargedPlan(plan, labelShare: 0.5)
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .planMismatch)
        #expect(error.message.contains("(label share 0.5 → 0.25)"), "\(error.message)")
        job.chargedPlan = ChargedPlan(plan)
        _ = try job.prepare()
    }

    /// The charge is priced at intake from the manifest; a build that calibrates its own
    /// release otherwise (here a label ε of 1 where the charge paid for 0.25 of ε 1) is
    /// refused before anything is released.
    @Test func aForwardPerturbationReleaseOtherThanTheChargedOneIsRefused() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""privacy": {"epsilon": 1, "delta": 1e-5}"#)
        let budget = try ForwardPerturbationBudget(epsilon: 1, delta: 1e-5, labelShare: 0.25)
        let feature = DpEvent.gaussian(noiseMultiplier: try budget.featureNoiseMultiplier())
        let share = [StrategyOption(name: ForwardPerturbationBudget.labelShareOption, kind: .number, defaultJSON: "0.25",
                                    help: "the label's share of ε")]
        job.strategy = HeadOnlyStrategy(options: share, mechanism: .forwardPerturbation(featureEvent: feature, labelEpsilon: 0.25))
        let plan = try job.prepare().trainer.plan
        job.chargedPlan = ChargedPlan(plan, labelShare: 0.25)
        _ = try job.prepare()
        job.strategy = HeadOnlyStrategy(options: share, mechanism: .forwardPerturbation(featureEvent: feature, labelEpsilon: 1))
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .planMismatch)
        #expect(error.message.contains("its ledger charge paid for"), "\(error.message)")
    }

    /// A unit of several records would lose one forward-perturbation release per record.
    @Test func aForwardPerturbationJobRefusesUnitLevelPrivacy() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""privacy": {"unit": "unit"}"#)
        job.strategy = try RealDataTrainingTests.strategy("DPForward")
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("strategy dp-forward") && error.message.contains("privacy.unit"), "\(error.message)")
    }

    /// What DP-Forward releases must not tell a record's length. Every draw of a record's
    /// pooled release differs from another only by noise (the backbone is deterministic),
    /// so the spread of a short record's pooled coordinates and a long one's must be the
    /// same; when the release was pooled over the real tokens alone, the short one's noise
    /// was √(long/short) times wider (here at least √2).
    @Test func aForwardPerturbationReleaseDoesNotTellTheRecordsLength() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""privacy": {"epsilon": 1, "delta": 1e-5}, "train": {"max_len": 96}"#)
        job.strategy = try RealDataTrainingTests.strategy("DPForward")
        let prepared = try job.prepare()
        let objective = try #require(prepared.trainer.objective as? ClassificationObjective)
        #expect(objective.releaseLength == 96)
        let byLength = prepared.heldOut.sorted { $0.ids.count < $1.ids.count }
        let (short, long) = (try #require(byLength.first), try #require(byLength.last))
        #expect(long.ids.count >= 2 * short.ids.count, "lengths \(short.ids.count) and \(long.ids.count)")
        let C = objective.backbone.hiddenSize, draws = 24
        var releases: [[Float]] = []
        for _ in 0..<draws { releases.append(objective.pooledFeatures(ofAll: [short, long], chunkSize: 2)) }
        func spread(_ example: Int) -> Double {
            var squares = 0.0
            for c in 0..<C {
                let values = releases.map { Double($0[example * C + c]) }
                let mean = values.reduce(0, +) / Double(draws)
                squares += values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws - 1)
            }
            return (squares / Double(C)).squareRoot()
        }
        // 24 draws × 384 coordinates: each spread is within a few percent of the true one.
        let ratio = spread(0) / spread(1)
        #expect(abs(ratio - 1) < 0.05, "short/long spread \(ratio)")
    }

    /// The published report (DESIGN §3.5) shows the whole run: a drawing of each panel, and
    /// the held-out accuracy at each quarter and each epoch's end, the last of which is the
    /// card's, beside the card's guarantee and the statement that the metrics are not private.
    @Test func publishesAReportOfTheRun() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 2, "expected_batch": 16, "lr": 0.01}"#)
        let card = try job.run()
        #expect(card.privacy.steps == 12)
        let report = try TrainingReportFiles(directory: job.outputDirectory)
        #expect(report.evaluationSteps == [3, 6, 9, 12])
        #expect(report.lastAccuracy == [String(format: "%.1f%%", (card.evaluation.accuracy["sentiment"] ?? -1) * 100)])
        #expect(report.svgIsWellFormed)
        #expect(report.polylineCount == 3, "the loss, the task's accuracy and the ε line")
        #expect(report.html.contains(TrainingReport.disclosure))
        #expect(report.html.contains(String(format: "%.4g (target %.4g)", card.privacy.epsilon, card.privacy.targetEpsilon)))
        #expect(report.html.contains("<td>12</td>"))
    }

    /// A forward-perturbation adapter is predicted with its inputs shaped as it was trained:
    /// the card says every sequence ran at the public `max_len`; a card that does not say so
    /// (written by dp-forward 1.0.1, which pooled the real tokens alone) is predicted that
    /// way, and a padding this version does not know is refused rather than guessed.
    @Test func aForwardPerturbationAdapterIsPredictedAsItWasTrained() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16, "max_len": 96}"#)
        job.strategy = try RealDataTrainingTests.strategy("DPForward")
        let card = try job.run()
        #expect(card.training.padding == "max_length")
        #expect(try card.training.releaseLength() == 96)
        _ = try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: MiniLMFixture.directory,
                                 strategy: job.strategy)

        let cardFile = job.outputDirectory.appendingPathComponent(AdapterArtifacts.modelCardFile)
        func rewrite(padding: String?) throws -> ModelCard {
            var earlier = card
            earlier.training.padding = padding
            try earlier.jsonData().write(to: cardFile)
            return try ModelCard.read(from: cardFile)
        }
        #expect(try rewrite(padding: nil).training.releaseLength() == nil)
        _ = try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: MiniLMFixture.directory,
                                 strategy: job.strategy)
        _ = try rewrite(padding: "ragged")
        let error = try #require(throws: TrainingError.self) {
            try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: MiniLMFixture.directory,
                                 strategy: job.strategy)
        }
        #expect(error.code == .artifactUnreadable)
        #expect(error.message.contains("training.padding") && error.message.contains("ragged"), "\(error.message)")
    }

    /// A record `dptuned train` cannot encode is named by its line, as intake names it: a
    /// label the manifest does not declare, after a blank line (line 42, the 41st record).
    @Test func aRecordThatCannotBeEncodedIsNamedByItsLine() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, records: 60)
        var lines = try String(contentsOfFile: job.datasetPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        lines[40] = Substring(lines[40].replacingOccurrences(of: "\"negative\"", with: "\"neutral\"")
            .replacingOccurrences(of: "\"positive\"", with: "\"neutral\""))
        lines.insert("", at: 10)
        try lines.joined(separator: "\n").write(toFile: job.datasetPath, atomically: true, encoding: .utf8)
        let error = try #require(throws: TrainingError.self) { try job.run() }
        #expect(error.code == .invalidRecord)
        #expect(error.message.hasPrefix("line 42: a record's label is not one declared for task"), "\(error.message)")
    }

    /// A run whose parameters overflow stops as `diverged` and publishes nothing: a LoRA
    /// adapter trained at lr 10^6 was published with NaN weights and a card claiming 75%
    /// held-out accuracy, and `predict` then failed on its NaN scores.
    /// A stop asked after the last step's report, while the run is being evaluated, is
    /// still honored: nothing is published. A daemon's cancel in that time used to be
    /// answered as a cancel while the job went on to succeed.
    @Test func aStopBeforePublicationPublishesNothing() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16}"#)
        var reports = 0
        var asked = 0
        let error = try #require(throws: TrainingError.self) {
            try job.run(progress: { _ in reports += 1; return true }, mayPublish: { asked += 1; return false })
        }
        #expect(error.code == .cancelled)
        #expect(error.message == "stopped after step \(reports) of \(reports), before publication")
        #expect(asked == 1)
        #expect(!FileManager.default.fileExists(atPath: job.outputDirectory.path))
    }

    /// An adapter folder already there is found before the run, not when the finished
    /// adapter cannot be renamed over it.
    @Test func anExistingOutputFolderIsRefusedBeforeTraining() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16}"#)
        try FileManager.default.createDirectory(at: job.outputDirectory, withIntermediateDirectories: false)
        var steps = 0
        let error = try #require(throws: TrainingError.self) { try job.run { _ in steps += 1; return true } }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("already exists"), "\(error.message)")
        #expect(steps == 0)
    }

    @Test func aDivergedRunIsNotPublished() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16, "lr": 1e38}"#)
        var steps = 0
        let error = try #require(throws: TrainingError.self) { try job.run { _ in steps += 1; return true } }
        #expect(error.code == .diverged)
        #expect(error.message.contains("training diverged at step \(steps + 1) of"), "\(error.message)")
        #expect(!FileManager.default.fileExists(atPath: job.outputDirectory.path))

        // One published by an earlier version is refused by name, not failed on its scores.
        let published = try self.job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16}"#)
        _ = try published.run()
        let weights = published.outputDirectory.appendingPathComponent(AdapterArtifacts.weightsFile)
        var bytes = try Data(contentsOf: weights)
        bytes.replaceSubrange((bytes.count - 4)..<bytes.count, with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) })
        try bytes.write(to: weights)
        let refusal = try #require(throws: TrainingError.self) { try predictor(published) }
        #expect(refusal.code == .artifactUnreadable)
        #expect(refusal.message.contains("not finite"), "\(refusal.message)")
    }

    /// A forward-perturbation card states one ε, the one its progress lines reported, at or
    /// below the target, for both accountants: its budget was split by basic composition
    /// (the Gaussian's exact ε plus the label's pure ε), which RDP composing the release as
    /// one event overstates (the card said 8.43 for a target of 8, under `prv` too).
    @Test(arguments: ["rdp", "prv"])
    func aForwardPerturbationCardStatesTheBudgetItWasSplitBy(accountant: String) throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""privacy": {"epsilon": 8, "delta": 1e-5, "accountant": "\#(accountant)"}, "train": {"epochs": 1, "expected_batch": 16, "max_len": 64}"#)
        job.strategy = try RealDataTrainingTests.strategy("DPForward")
        var reported: [Double] = []
        let card = try job.run { reported.append($0.epsilonSpent); return true }
        #expect(card.privacy.accountant == Trainer.basicCompositionAccountant)
        #expect(card.privacy.epsilon <= card.privacy.targetEpsilon)
        #expect(card.privacy.epsilon >= card.privacy.targetEpsilon * (1 - 1e-6))
        #expect(!reported.isEmpty && reported.allSatisfy { $0 == card.privacy.epsilon }, "\(reported) vs \(card.privacy.epsilon)")
        var rdp = RDPAccountant()
        try rdp.compose(card.privacy.event)
        #expect(try rdp.epsilon(delta: card.privacy.delta) > card.privacy.epsilon)
    }

    /// The worker trains the bytes intake validated and the ledger admitted: the hash it
    /// reads is the file's own (checked against `sha256sum`), and a file that changed since
    /// is refused before anything is trained.
    @Test func aDatasetOtherThanTheAdmittedOneIsRefused() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory)
        let reference = try ReferenceSHA256.of(path: job.datasetPath)
        let read = try TrainingDataset.read(path: job.datasetPath, privacyUnit: .record)
        #expect(read.sha256 == reference)
        job.admittedDatasetSHA256 = reference
        _ = try job.prepare()
        let text = try String(contentsOfFile: job.datasetPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"positive\"", with: "\"negative\"")
            .write(toFile: job.datasetPath, atomically: true, encoding: .utf8)
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .planMismatch)
        #expect(error.message.contains("the ledger admitted \(reference ?? "")"), "\(error.message)")
    }

    @Test func predictionRefusesOptionsACardDoesNotRecord() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16, "lr": 0.01}"#)
        let card = try job.run()
        #expect(card.strategy.options == "{}")
        let later = HeadOnlyStrategy(version: "0.0.2")
        _ = try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: MiniLMFixture.directory, strategy: later)
        let widened = HeadOnlyStrategy(version: "0.0.2", options: [
            StrategyOption(name: "projection", kind: .string, defaultJSON: #""principal""#, help: "new in 0.0.2"),
        ])
        let error = try #require(throws: TrainingError.self) {
            try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: MiniLMFixture.directory, strategy: widened)
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("head-only 0.0.1") && error.message.contains("projection"), "\(error)")

        let resolved = try TemporaryDirectory()
        let widenedJob = TrainingJob(jobID: "job-2", manifest: try MiniLMFixture.manifest(#""train": {"epochs": 1, "expected_batch": 16, "lr": 0.01}"#),
                                     datasetPath: try MiniLMFixture.datasetFile(120, in: resolved.url),
                                     backboneDirectory: MiniLMFixture.directory, strategy: widened,
                                     outputDirectory: resolved.url.appendingPathComponent("adapter"), heldOutFraction: 0.25)
        #expect(try widenedJob.run().strategy.options == #"{"projection":"principal"}"#)
        let successor = HeadOnlyStrategy(version: "0.0.3", options: widened.options)
        _ = try AdapterPredictor(adapterDirectory: widenedJob.outputDirectory, backboneDirectory: MiniLMFixture.directory,
                                 strategy: successor)
    }

    /// A card names its backbone by an id that a config or `--backbone` maps to a
    /// directory, so the id cannot tell another model; the parameter count the card
    /// recorded at training must be the loaded backbone's, or prediction is refused with both.
    @Test func predictionRefusesABackboneOfAnotherSize() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16}"#)
        var card = try job.run()
        _ = try predictor(job)
        let trainedOn = card.backbone.parameters
        card.backbone.parameters += 1
        try card.jsonData().write(to: job.outputDirectory.appendingPathComponent(AdapterArtifacts.modelCardFile))
        let error = try #require(throws: TrainingError.self) { try predictor(job) }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("of \(trainedOn + 1) parameters") && error.message.contains("a backbone of \(trainedOn):"),
                "\(error.message)")
    }

    /// `train.head_init = label_names` reaches the trainer: with the head-only strategy and no
    /// training step that changes it much, the published head still points at the label names.
    @Test func labelNamesStartTheHead() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16, "lr": 1e-6, "head_init": "label_names"}"#)
        let card = try job.run()
        #expect(card.training.headInit == "label_names")
        let labels = try predictor(job).predict([
            DatasetRecord(body: .instruction(instruction: "negative", input: nil, output: "negative")),
            DatasetRecord(body: .instruction(instruction: "positive", input: nil, output: "positive")),
        ])
        #expect(labels.map(\.prediction) == ["negative", "positive"])
    }

    /// `train.instruction = omit` reaches the card, and the predictor rebuilt from the files
    /// reads the input alone: records that differ only in their instruction score the same.
    @Test func anOmittedInstructionIsOmittedInPrediction() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 16, "lr": 0.01, "instruction": "omit"}"#)
        let card = try job.run()
        #expect(card.training.instruction == "omit")
        let input = "a gripping , beautifully acted film"
        let scores = try predictor(job).predict([
            DatasetRecord(body: .instruction(instruction: "Classify the sentiment of this movie review.", input: input, output: "positive")),
            DatasetRecord(body: .instruction(instruction: "Is this review negative or positive?", input: input, output: "positive")),
            DatasetRecord(body: .instruction(instruction: input, input: nil, output: "positive")),
        ]).map(\.scores)
        for other in scores.dropFirst() {
            for (label, score) in scores[0] { #expect(abs(score - (other[label] ?? -1)) < 1e-6) }
        }
    }

    /// `privacy.unit = unit` reaches the trainer, which then prices σ_eff over every segment.
    @Test func unitLevelPrivacyReachesTheTrainer() throws {
        let directory = try TemporaryDirectory()
        let text = try String(contentsOf: SharedFixtures.url("data/sentiment/train.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n").prefix(40).enumerated().map { index, line in
            #"{"unit": "user-\#(index / 2)", "# + line.dropFirst()
        }
        let url = directory.url.appendingPathComponent("units.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        let job = TrainingJob(jobID: "job-units", manifest: try MiniLMFixture.manifest(#""privacy": {"epsilon": 8, "delta": 1e-5, "unit": "unit"}"#),
                              datasetPath: url.path, backboneDirectory: MiniLMFixture.directory, strategy: HeadOnlyStrategy(),
                              outputDirectory: directory.url.appendingPathComponent("adapter"), heldOutFraction: 0.25)
        let prepared = try job.prepare()
        #expect(prepared.trainer.settings.privacyUnit == .unit)
        #expect(prepared.populationSize == 15)
    }

    /// A run stopped after a checkpoint resumes there: the steps already taken are neither
    /// repeated nor forgotten by the accounting.
    /// A job of 9 steps stopped after its 4th, with a checkpoint every 3.
    func interruptedJob(_ directory: TemporaryDirectory) throws -> TrainingJob {
        var job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 10}"#)
        job.checkpointURL = directory.url.appendingPathComponent("job-1.checkpoint")
        job.checkpointEvery = 3
        var seen: [Int] = []
        #expect(throws: TrainingError.self) {
            _ = try job.run { seen.append($0.step); return $0.step < 4 }
        }
        #expect(seen == [1, 2, 3, 4])
        return job
    }

    /// A checkpoint that cannot be written does not end the run: it is reported and the run
    /// publishes (a full state disk failed a job at 91%, its charge kept).
    @Test func aCheckpointThatCannotBeWrittenDoesNotEndTheRun() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 10}"#)
        job.checkpointURL = directory.url.appendingPathComponent("missing/job-1.checkpoint")
        job.checkpointEvery = 3
        var failures = 0
        let card = try job.run(checkpointFailed: { _ in failures += 1 })
        #expect(card.privacy.steps == 9)
        #expect(failures == 3)
        #expect(FileManager.default.fileExists(atPath: job.outputDirectory.appendingPathComponent(AdapterArtifacts.modelCardFile).path))
    }

    @Test func resumesFromItsCheckpoint() throws {
        let directory = try TemporaryDirectory()
        let job = try interruptedJob(directory)
        let saved = try TrainingCheckpoint.read(from: try #require(job.checkpointURL))
        #expect(saved.checkpoint.step == 3 && saved.checkpoint.noiseSteps == [3])
        #expect(saved.checkpoint.history?.steps.map(\.step) == [1, 2, 3])

        var resumed: [Int] = []
        let card = try job.run { resumed.append($0.step); return true }
        #expect(resumed == Array(4...9))
        // The report shows the run from its first step: the evaluation at step 2 came back
        // with the checkpoint, the one at step 4 of the interrupted run did not.
        #expect(try TrainingReportFiles(directory: job.outputDirectory).evaluationSteps == [2, 4, 6, 9])
        #expect(card.privacy.steps == 9)
        guard case .selfComposed(_, let count) = card.privacy.event else {
            Issue.record("a uniform run is one repeated event; found \(card.privacy.event)")
            return
        }
        #expect(count == 9)
        #expect(!FileManager.default.fileExists(atPath: try #require(job.checkpointURL).path))
    }

    /// A plugin replaced while its job was interrupted: the new build does not continue the
    /// old build's checkpoint (the card would name it for an adapter it trained in part)
    /// but trains every step itself, and the card names it.
    @Test func aCheckpointOfAnotherStrategyBuildIsNotResumed() throws {
        let directory = try TemporaryDirectory()
        var job = try interruptedJob(directory)
        let saved = try TrainingCheckpoint.read(from: try #require(job.checkpointURL))
        #expect(saved.checkpoint.step == 3 && saved.checkpoint.strategy == "head-only@0.0.1")

        job.strategy = HeadOnlyStrategy(version: "0.0.2")
        var steps: [Int] = []
        let card = try job.run { steps.append($0.step); return true }
        #expect(steps == Array(1...9))
        #expect(card.strategy.version == "0.0.2" && card.privacy.steps == 9)
    }

    @Test func refusesAnotherJobsCheckpoint() throws {
        let directory = try TemporaryDirectory()
        var job = try job(directory, manifest: #""train": {"epochs": 1, "expected_batch": 10}"#)
        job.checkpointURL = directory.url.appendingPathComponent("c.checkpoint")
        job.checkpointEvery = 2
        _ = try? job.run { $0.step < 2 }
        job.jobID = "job-2"
        let error = try #require(throws: TrainingError.self) { try job.run() }
        #expect(error.code == .checkpointMismatch)
    }
}

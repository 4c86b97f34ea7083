// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Records

/// Prepares a job in a throw-away process before the ledger is asked to admit it: reads
/// and encodes the dataset, opens the backbone, makes the strategy's adapter and the
/// trainer, exactly as the worker will, and trains nothing.
///
/// A charge stands once admitted (DESIGN §4.2), so whatever would stop the worker before
/// its first step — an option out of the strategy's range, `target_modules` the backbone
/// lacks, `bitfit` on a model without biases — is found here and charges nothing. Only
/// the plugin knows its rules, and plugin code never runs in the daemon: hence a child,
/// as for the plugin probe.
public struct JobPreflight: Sendable {
    /// The answer line the child prints last: a refusal, or none when the job prepared.
    struct Answer: Codable {
        let refusal: String?
        /// Whether the refusal came from a shortage of the host (``ResourceShortage``), not
        /// from the job; absent from older builds' answers.
        var shortage: Bool?
    }

    let executable: URL
    let config: ChildConfig
    let stagingDirectory: URL
    let timeout: Duration

    /// - Parameters:
    ///   - executable: the `dptuned` binary, run as `dptuned preflight`.
    ///   - config: where the child reads the config the daemon runs under.
    ///   - stagingDirectory: a private, exec-allowed directory for the plugin's staging copy.
    ///   - timeout: a preparation still running after this is stopped, and the job refused.
    public init(executable: URL, config: ChildConfig, stagingDirectory: URL, timeout: Duration = .seconds(600)) {
        self.executable = executable
        self.config = config
        self.stagingDirectory = stagingDirectory
        self.timeout = timeout
    }

    /// The child side: prepares the dataset `name` in `incoming/` under the resolved
    /// manifest in `manifestFile` and prints one ``Answer``.
    ///
    /// - Returns: the process exit status: 0 when the job prepared, 1 when it did not.
    public static func runInChild(config childConfig: ChildConfig, dataset name: String, manifestFile: URL,
                                  heldOutFraction: Double, pluginFile: URL, stagingDirectory: URL) -> Int32 {
        // The daemon may be training meanwhile: preparing needs no second core.
        BLAS.setThreadCount(1)
        let answer: Answer
        do {
            let config = try childConfig.read()
            let manifest = try Manifest.parse(Data(contentsOf: manifestFile), defaults: config.defaults)
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-preflight-never-written")
            _ = try config.trainingJob(id: "preflight", dataset: name, in: .incoming, manifest: manifest,
                                       heldOutFraction: heldOutFraction, pluginFile: pluginFile,
                                       stagingDirectory: stagingDirectory, output: output).prepare()
            answer = Answer(refusal: nil)
        } catch {
            answer = Answer(refusal: "\(error)", shortage: ResourceShortage.caused(error))
        }
        let line = (try? JSONEncoder().encode(answer)) ?? Data(#"{"refusal":"unencodable"}"#.utf8)
        FileHandle.standardOutput.write(Data("\n".utf8) + line + Data("\n".utf8))
        return answer.refusal == nil ? 0 : 1
    }

    /// The daemon side: runs `dptuned preflight` on the dataset `name` in `incoming/` under
    /// `manifest` as the daemon resolved it (its defaults, not the config file's, which may
    /// have changed since it started), with the plugin build `pluginFile`, and waits for it
    /// (blocking the calling thread).
    ///
    /// - Parameter callOff: asked while the child runs; once it answers true (the daemon is
    ///   stopping), the child is killed.
    /// - Returns: nil when the job prepared; `intake_stopped` when `callOff` ended the
    ///   check, and `intake_deferred` when the child could not be started or ran short of
    ///   the host's disk or file descriptors, neither of which says anything about the job;
    ///   otherwise the `preparation_failed` error for the data owner, also when the child
    ///   crashed or timed out (the worker would, the same way).
    func check(dataset name: String, manifest: Manifest, heldOutFraction: Double, pluginFile: URL,
               callOff: () -> Bool = { false }) -> IntakeError? {
        let manifestFile = stagingDirectory.appendingPathComponent("\(UUID().uuidString).manifest.json")
        defer { try? FileManager.default.removeItem(at: manifestFile) }
        let child: ShortLivedChild
        do {
            try FileManager.default.createDirectory(at: stagingDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try manifest.resolvedJSON.write(to: manifestFile)
            child = try ShortLivedChild(
                executable: executable,
                arguments: ["preflight"] + config.arguments + ["--plugin", pluginFile.path,
                            "--staging", stagingDirectory.path, "--manifest", manifestFile.path,
                            "--held-out-fraction", "\(heldOutFraction)", name],
                timeout: timeout, callOff: callOff)
        } catch is ShortLivedChild.CalledOff {
            return IntakeError(.intakeStopped, "the daemon stopped while the job was being prepared")
        } catch {
            return IntakeError(.intakeDeferred, "the job could not be checked: cannot start dptuned preflight (\(error))")
        }
        switch child.end {
        case .timedOut:
            return Self.refusal("the job was still being prepared after \(timeout), so it was stopped")
        case .killedBySignal(let signal):
            return Self.refusal("preparing the job crashed (signal \(signal)); the worker would crash the same way")
        case .exited(let status):
            guard let answer = try? JSONDecoder().decode(Answer.self, from: child.lastLine) else {
                return Self.refusal("the job could not be checked: dptuned preflight exited with status \(status) and no answer")
            }
            if let refusal = answer.refusal {
                return answer.shortage == true
                    ? IntakeError(.intakeDeferred, "the host ran short while the job was being prepared: \(refusal)")
                    : Self.refusal(refusal)
            }
            return status == 0 ? nil : Self.refusal("the job could not be checked: dptuned preflight exited with status \(status)")
        }
    }

    private static func refusal(_ reason: String) -> IntakeError {
        IntakeError(.preparationFailed, "the job cannot be prepared for training, so it was not admitted and nothing was charged: \(reason)")
    }
}

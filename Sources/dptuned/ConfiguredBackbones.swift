// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Daemon
import Foundation

/// Where `train` and `predict` find a backbone when `--backbone` is not given (DESIGN §3.6):
/// the daemon's config, whose `[models]` maps the ids that manifests and model cards name to
/// directories, so a foreground job uses the backbone the daemon would.
struct ConfiguredBackbones {
    let config: DaemonConfig
    let file: String

    init(file: String) throws {
        do {
            config = try DaemonConfig(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("no --backbone given, and the config \(file) that would name it cannot be used: \(error)")
        }
        self.file = file
    }

    func directory(of id: String) throws -> URL {
        guard let directory = config.models[id] else {
            let known = config.models.keys.sorted().joined(separator: ", ")
            throw ValidationError("no --backbone given, and backbone \(id) is not in [models] of \(file) (it names: \(known.isEmpty ? "none" : known))")
        }
        return directory
    }
}

// SPDX-License-Identifier: Apache-2.0
import Daemon
import Foundation
import Records

/// Where `train` and `predict` find their backbone (DESIGN §3.6): the directory `--backbone`
/// names, or else the daemon's config, whose `[models]` maps the ids that manifests and
/// model cards name to directories, so a foreground job uses the backbone the daemon would.
enum BackboneSource {
    case directory(URL)
    case registry(DaemonConfig, file: String)

    /// `--backbone` if given; otherwise the config file `configFile`, read now.
    init(backbone: String?, configFile: String) throws {
        if let backbone {
            self = .directory(URL(fileURLWithPath: backbone))
            return
        }
        do {
            self = .registry(try DaemonConfig(contentsOf: URL(fileURLWithPath: configFile)), file: configFile)
        } catch {
            throw ForegroundFailure.failed("no --backbone given, and the config \(configFile) that would name it cannot be used: \(error)")
        }
    }

    /// What a manifest leaves out: the config's `[defaults]`, or, beside a directory, the
    /// directory's name as the backbone id and `lora`; the account `local` unless the
    /// config names one.
    var manifestDefaults: ManifestDefaults {
        var defaults = switch self {
        case .directory(let url): ManifestDefaults(backbone: url.lastPathComponent, strategy: "lora")
        case .registry(let config, _): config.defaults
        }
        defaults.account = defaults.account ?? "local"
        return defaults
    }

    /// The directory of backbone `id` (the one `--backbone` named, whatever the id).
    func directory(of id: String) throws -> URL {
        switch self {
        case .directory(let url):
            return url
        case .registry(let config, let file):
            guard let directory = config.models[id] else {
                let known = config.models.keys.sorted().joined(separator: ", ")
                throw ForegroundFailure.failed("no --backbone given, and backbone \(id) is not in [models] of \(file) (it names: \(known.isEmpty ? "none" : known))")
            }
            return directory
        }
    }
}

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
        case .directory(let url): ManifestDefaults(backbone: Self.id(of: url), strategy: "lora")
        case .registry(let config, _): config.defaults
        }
        defaults.account = defaults.account ?? "local"
        return defaults
    }

    /// The backbone id a `--backbone` directory stands for: its name, as `[models]` would
    /// name it.
    static func id(of directory: URL) -> String { directory.lastPathComponent }

    /// The directory to train backbone `id` on, the manifest's.
    ///
    /// The model card names the backbone by that id, and `predict` without `--backbone`
    /// loads whatever the id names in `[models]`; a manifest naming another backbone than
    /// the `--backbone` directory would publish a card pointing at a model the adapter was
    /// not trained on.
    ///
    /// - Throws: ``ForegroundFailure`` refused when `id` is not the `--backbone` directory's.
    func trainingDirectory(of id: String) throws -> URL {
        if case .directory(let url) = self {
            let named = Self.id(of: url)
            guard id == named else {
                throw ForegroundFailure.refused("the manifest names backbone \(id), but --backbone \(url.path) is backbone \(named), so the model card would name a backbone the adapter was not trained on: drop \"backbone\" from the manifest to train \(named), or point --backbone at the directory of \(id) (one named \(id)); refusing")
            }
        }
        return try directory(of: id)
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

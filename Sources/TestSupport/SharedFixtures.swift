// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Locates `../shared` (real models, real data, reference test vectors) beside the checkout.
///
/// Tests that need it are skipped with a message when it is absent on a developer's
/// machine; under CI (`CI` set) its absence is a failure, so no test passes by skipping.
public enum SharedFixtures {
    /// The `shared/` directory: `$DPTUNE_SHARED` if set, else `../shared` from the package root.
    public static let root: URL = {
        if let override = ProcessInfo.processInfo.environment["DPTUNE_SHARED"] {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared", isDirectory: true)
    }()

    /// The root of this package (the directory holding Package.swift).
    public static let packageRoot: URL = {
        // #filePath is .../Sources/TestSupport/SharedFixtures.swift
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }()

    public static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent("testvectors").path)
    }

    /// True when tests needing `shared/` may be skipped: it is absent and we are not in CI.
    public static var mayBeSkipped: Bool {
        !isAvailable && ProcessInfo.processInfo.environment["CI"] == nil
    }

    public static let skipMessage = "../shared (models, data, test vectors) is absent: skipped"

    public static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// Loads a JSON file under `shared/` as a Foundation object.
    public static func json(_ relativePath: String) throws -> Any {
        let data = try Data(contentsOf: url(relativePath))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// A model directory holding nothing but SmolLM2's GGUF file (linked), as a user who
    /// downloaded only the `.gguf` has it.
    public static func smolLM2GGUFOnly(in directory: URL) throws -> URL {
        let file = "SmolLM2-135M-Instruct.Q4_1.gguf"
        let model = directory.appendingPathComponent("smollm2-gguf-only", isDirectory: true)
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: model.appendingPathComponent(file),
                                                   withDestinationURL: url("models/smollm2-135m-instruct/\(file)"))
        return model
    }
}

// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Where SwiftPM put this build's products (executables, plugin libraries).
///
/// The running test executable sits in that directory, so it is found from
/// `/proc/self/exe` whatever the configuration (debug, release) or scratch path.
public enum BuildProducts {
    public static let directory: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The XCTest runner lives inside `NAME.xctest/` bundles on some toolchains.
        while dir.pathExtension == "xctest" || dir.lastPathComponent == "usr" { dir.deleteLastPathComponent() }
        return dir
    }()

    /// The path of a built dynamic library product `lib<name>.so`.
    public static func library(_ name: String) -> URL {
        directory.appendingPathComponent("lib\(name).so")
    }

    /// The path of a built executable product.
    public static func executable(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }
}

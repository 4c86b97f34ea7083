// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Where SwiftPM put this build's products (executables, plugin libraries).
///
/// Products and the test executable share one build directory, so it is found from the
/// running test process (`/proc/self/exe`) whatever the configuration or scratch path.
public enum BuildProducts {
    public static let directory: URL =
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    /// The path of a built dynamic library product `lib<name>.so`.
    public static func library(_ name: String) -> URL {
        directory.appendingPathComponent("lib\(name).so")
    }

    /// The path of a built executable product.
    public static func executable(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }
}

// swift-tools-version:6.1
//
// DPTuneKit: the engine shared by the daemon and every adapter plugin.
//
// It is built as ONE dynamic library so that the daemon and each dlopen()ed plugin
// link the same copy of every type (see DESIGN.md §2): two static copies of
// AdapterKit would make protocol casts across the plugin boundary fail.
import PackageDescription

let package = Package(
    name: "Kit",
    products: [
        .library(
            name: "DPTuneKit",
            type: .dynamic,
            targets: ["Linalg", "Transformer", "Privacy", "AdapterKit"]
        )
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "CVectorMath"),
        .target(name: "CSGEMM"),
        .target(name: "Linalg", dependencies: ["CBLAS", "CVectorMath", "CSGEMM"]),
        .target(name: "Transformer", dependencies: ["Linalg"]),
        .target(name: "Privacy", dependencies: ["Linalg"]),
        .target(name: "AdapterKit", dependencies: ["Transformer", "Privacy"]),
    ],
    swiftLanguageModes: [.v6]
)

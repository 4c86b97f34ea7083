// swift-tools-version:6.1
//
// dptune: differentially private fine-tuning of transformer adapters as a Linux service.
//
// Every target that needs the engine depends on the DPTuneKit *product* of the nested Kit
// package, never on Kit's targets: that is what makes the daemon and the dlopen()ed
// plugins share one copy of every engine type (DESIGN.md §2).
import PackageDescription

let kit: Target.Dependency = .product(name: "DPTuneKit", package: "Kit")

/// The adapter strategies dptune ships, each a dynamic library loaded at run time
/// (`Plugins/NAME` builds `libNAME.so`).
let bundledPlugins = ["LoRA", "BiTFiT", "DPForward", "AnaDP", "Projected"]

/// Plugins that exist only to test the loader (good, refused, and two builds of one), and
/// `LoRANext`: the bundled LoRA reporting another version, for the hot-swap tests.
let pluginFixtures = ["EchoV1", "EchoV2", "WrongABI", "NoEntry", "NotAStrategy", "CrashingEntry", "HangingEntry", "LoRANext"]

let package = Package(
    name: "dptune",
    products: [
        .executable(name: "dptuned", targets: ["dptuned"]),
        .executable(name: "dptunectl", targets: ["dptunectl"]),
    ] + (bundledPlugins + pluginFixtures).map { .library(name: $0, type: .dynamic, targets: [$0]) },
    dependencies: [
        .package(path: "Kit"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "Tokenizers"),
        .target(name: "Records"),
        .target(name: "Training", dependencies: [kit, "Tokenizers", "Records"]),
        .target(name: "Ledger", dependencies: [
            kit,
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .target(name: "Spool", dependencies: ["Records"]),
        .target(name: "Control", dependencies: [
            "Records",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "Daemon", dependencies: [
            kit, "Training", "Ledger", "Records", "Spool", "Control",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .executableTarget(name: "dptuned", dependencies: [
            "Daemon", "Training", "Records", kit, .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "dptunectl", dependencies: [
            kit, "Control",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", dependencies: ["Control", kit]),
        .target(name: "BenchmarkProbes", dependencies: [kit], path: "Benchmarks/BenchmarkProbes"),
        .executableTarget(name: "dptune-bench", dependencies: [
            kit, "BenchmarkProbes", "Training", "Records", "Tokenizers", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/dptune-bench"),
        .executableTarget(name: "dptune-eval", dependencies: [
            kit, "BenchmarkProbes", "Training", "Records", "Tokenizers", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/dptune-eval"),
        .executableTarget(name: "ledger-torture", dependencies: ["Ledger", kit], path: "Tests/LedgerTorture"),

        .testTarget(name: "LinalgTests", dependencies: [kit, "TestSupport"]),
        .testTarget(name: "TransformerTests", dependencies: [kit, "TestSupport"]),
        .testTarget(name: "PrivacyTests", dependencies: [kit, "TestSupport"]),
        .testTarget(name: "AdapterKitTests", dependencies: [kit, "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"]),
        .testTarget(name: "LedgerTests", dependencies: [
            "Ledger", kit, "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", kit, "TestSupport"]),
        .testTarget(name: "RecordsTests", dependencies: ["Records", "TestSupport"]),
        .testTarget(name: "SpoolTests", dependencies: ["Spool", "Records", "TestSupport"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "TestSupport"]),
        .testTarget(name: "DaemonCLITests", dependencies: ["dptunectl", "Control", "TestSupport"]),
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "TestSupport", kit, .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PluginTests", dependencies: [kit, "TestSupport"]),
        .testTarget(name: "DPTuneEvalTests", dependencies: ["dptune-eval", "BenchmarkProbes", "Training", "TestSupport", kit]),
    ] + bundledPlugins.map { .target(name: $0, dependencies: [kit], path: "Plugins/\($0)") }
      + pluginFixtures.map { .target(name: $0, dependencies: [kit], path: "Tests/PluginFixtures/\($0)") },
    swiftLanguageModes: [.v6]
)

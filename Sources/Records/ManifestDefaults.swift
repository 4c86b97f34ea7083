// SPDX-License-Identifier: Apache-2.0

/// The values a manifest may leave out, filled by the daemon from `dptuned.toml`.
///
/// `account`, `backbone` and `strategy` have no built-in default: a service must not guess
/// whose budget to spend or which model to train. The others are the defaults of
/// `dptuned.toml` (`DaemonConfig` reads them from here), so a foreground job without a
/// config trains as the daemon would.
public struct ManifestDefaults: Sendable, Hashable {
    public var account: String?
    public var backbone: String?
    public var strategy: String?
    public var objective: Manifest.Objective
    public var labels: [String: [String]]
    public var privacy: Manifest.Privacy
    public var train: Manifest.Train
    public var strategyOptions: [String: JSONValue]
    /// Whether a manifest may set `insecure_reproducible_noise` (tests only).
    public var allowInsecureReproducibleNoise: Bool

    public init(
        account: String? = nil,
        backbone: String? = nil,
        strategy: String? = nil,
        objective: Manifest.Objective = .classify,
        labels: [String: [String]] = [:],
        privacy: Manifest.Privacy = Manifest.Privacy(epsilon: 8, delta: 1e-5, unit: .record, accountant: .prv),
        train: Manifest.Train = Manifest.Train(epochs: 3, expectedBatch: 64, lr: 1e-3, maxLen: 128, clip: 1, seed: 7),
        strategyOptions: [String: JSONValue] = [:],
        allowInsecureReproducibleNoise: Bool = false
    ) {
        self.account = account
        self.backbone = backbone
        self.strategy = strategy
        self.objective = objective
        self.labels = labels
        self.privacy = privacy
        self.train = train
        self.strategyOptions = strategyOptions
        self.allowInsecureReproducibleNoise = allowInsecureReproducibleNoise
    }
}

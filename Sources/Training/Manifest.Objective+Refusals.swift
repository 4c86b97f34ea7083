// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Records
import Transformer

extension Manifest.Objective {
    /// The one family each objective trains: classification encodes records with BERT's
    /// WordPiece tokenizer and puts its heads on the encoder's pooled features; generation
    /// trains a Llama-family decoder on its response tokens.
    public var backboneFamily: BackboneFamily {
        switch self {
        case .classify: .bertEncoder
        case .generate: .llamaDecoder
        }
    }

    /// Why backbone `name`, of `family`, cannot train this objective; nil when it can.
    ///
    /// The daemon asks at intake, where a refusal charges nothing, and the worker again,
    /// for a backbone whose family intake could not read.
    public func refusal(backbone name: String, family: BackboneFamily) -> String? {
        guard family != backboneFamily else { return nil }
        let hint = self == .classify && family == .llamaDecoder ? " (objective generate trains its responses)" : ""
        return "objective \(rawValue) needs \(backboneFamily.displayName); backbone \(name) is \(family.displayName)\(hint), refusing"
    }

    /// Why a strategy of `mechanism` cannot train this objective; nil when it can: forward
    /// perturbation privatizes hidden states for a classification head, and `generate` has none.
    ///
    /// Asked at intake and by the worker, like ``refusal(backbone:family:)``.
    public func refusal(strategy id: String, mechanism: MechanismKind) -> String? {
        guard self == .generate, mechanism != .gradientPerturbation else { return nil }
        return "strategy \(id) privatizes hidden states for a classification head; objective generate trains no head, refusing"
    }
}

extension Manifest.PrivacyUnit {
    /// Why a strategy of `mechanism` cannot protect this unit; nil when it can: forward
    /// perturbation releases every record once, so a unit of m records loses m releases, and
    /// m is the data owner's private count, which no charge can be computed from.
    ///
    /// Asked at intake, by the worker and by the trainer, which names no strategy (`id` nil).
    public func refusal(strategy id: String?, mechanism: MechanismKind) -> String? {
        guard self == .unit, mechanism != .gradientPerturbation else { return nil }
        let strategy = id.map { "strategy \($0)" } ?? "a forward-perturbation strategy"
        return "\(strategy) releases each record's representation and label once, so a unit of several records would lose one release per record; privacy.unit \"unit\" needs a DP-SGD strategy, refusing"
    }
}

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

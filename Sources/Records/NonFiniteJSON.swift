// SPDX-License-Identifier: Apache-2.0
import Foundation

/// How dptune's JSON carries numbers plain JSON cannot: the strings `"Infinity"`,
/// `"-Infinity"` and `"NaN"`.
///
/// A diverged training loss is NaN or infinite, and a non-private charge is ε = ∞; with
/// Foundation's default an encoder throws on them, so a message or a file that carries one
/// would be lost. The control socket, the worker's reports, the daemon's job files and the
/// training checkpoints all use this one convention; the ledger's JSON columns spell them
/// the same way (`LedgerJSON`, in a module that does not depend on this one).
public enum NonFiniteJSON {
    public static let encoding = JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
        positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    public static let decoding = JSONDecoder.NonConformingFloatDecodingStrategy.convertFromString(
        positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
}

// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Transformer
#if canImport(Glibc)
import Glibc
#endif

/// Tells a failure of the host from a failure of the job: a disk or quota full, the file
/// descriptors exhausted.
///
/// Such a failure says nothing about the dataset or its job, and goes away once the
/// operator makes room. Treated as the job's fault, it rejected a good dataset for good at
/// intake, or failed an admitted job before its first step with its charge spent; so intake
/// leaves the dataset in `incoming/` and tries again, and the scheduler runs the job again.
///
/// Memory (`ENOMEM`) is not among them: a job may need more than the host will ever have,
/// and a postponed job holds its worker slot, so it would stall the queue for good.
public enum ResourceShortage {
    /// The `errno` values of a shortage: `ENOSPC`, `EDQUOT`, `ENFILE`, `EMFILE`.
    static let errnoValues: Set<Int32> = [ENOSPC, EDQUOT, ENFILE, EMFILE]
    /// Foundation's "out of space" error, which it raises in place of `ENOSPC` on writes.
    static let cocoaOutOfSpace = 640

    /// Whether `error`, or an error it wraps, is a shortage of the host.
    public static func caused(_ error: any Error) -> Bool {
        var next: (any Error)? = error
        // An error's chain is short; the bound only guards against a cycle.
        for _ in 0..<16 {
            guard let current = next else { return false }
            if let posix = current as? POSIXError, errnoValues.contains(posix.code.rawValue) { return true }
            if let loading = current as? PluginLoadError {
                next = loading.cause
                continue
            }
            if let writing = current as? SafetensorsError {
                next = writing.cause
                continue
            }
            let bridged = current as NSError
            switch bridged.domain {
            case NSPOSIXErrorDomain where errnoValues.contains(Int32(truncatingIfNeeded: bridged.code)):
                return true
            case NSCocoaErrorDomain where bridged.code == cocoaOutOfSpace:
                return true
            default:
                next = bridged.userInfo[NSUnderlyingErrorKey] as? any Error
            }
        }
        return false
    }
}

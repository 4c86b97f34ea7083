// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Privacy

/// The accountants a user can choose with `--accountant`.
enum AccountantKind: String, ExpressibleByArgument, CaseIterable {
    case rdp
    case pld

    /// The one place an accountant name becomes an accountant.
    ///
    /// - Returns: a factory making a fresh accountant for a neighbouring relation.
    /// - Throws: ``CommandFailure`` if this build has no such accountant.
    func makeAccountant() throws -> (NeighboringRelation) -> any PrivacyAccountant {
        switch self {
        case .rdp:
            return { RDPAccountant(neighboringRelation: $0) }
        case .pld:
            throw CommandFailure("accountant pld: not available in this build yet (use --accountant rdp), refusing")
        }
    }
}

/// A request that failed for a reason the message states; exit status 1.
struct CommandFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

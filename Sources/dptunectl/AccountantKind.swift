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
    func makeAccountant() -> (NeighboringRelation) -> any PrivacyAccountant {
        switch self {
        case .rdp: { RDPAccountant(neighboringRelation: $0) }
        case .pld: { PLDAccountant(neighboringRelation: $0) }
        }
    }
}

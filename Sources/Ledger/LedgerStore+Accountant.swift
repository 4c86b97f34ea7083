// SPDX-License-Identifier: Apache-2.0
import Privacy

extension LedgerStore {
    /// The production pricing of events: the RDP accountant's own curves under
    /// add-or-remove-one adjacency, so that the ledger and the model cards agree.
    public static let accountantCurves: RdpCurveEvaluator = { event, orders in
        try rdpCurve(of: event, orders: orders, neighboringRelation: .addOrRemoveOne)
    }
}

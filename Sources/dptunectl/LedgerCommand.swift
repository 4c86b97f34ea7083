// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl ledger [--account A]`: every charge ever made (DESIGN §4.2), never pruned.
struct LedgerCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "List ledger charges, optionally of one account with its remaining budget.")

    @ParentCommand var root: DPTuneCtl

    @Option(help: "Only the charges of this account.")
    var account: String?

    var subject: String { account.map { "ledger of account \($0)" } ?? "ledger" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .ledger(account: account), with: client)
    }
}

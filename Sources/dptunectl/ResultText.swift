// SPDX-License-Identifier: Apache-2.0
import Control

/// The human text of each answer the daemon gives: tables for lists, `key  value` lines for
/// one object.
enum ResultText {
    static func text(for result: ControlResult) -> String {
        switch result {
        case .status(let status): text(for: status)
        case .jobs(let jobs): jobsTable(jobs)
        case .job(let detail): fields(detailFields(detail))
        case .ledger(let report): text(for: report)
        case .accounts(let accounts): accountsTable(accounts)
        case .plugins(let plugins): pluginsTable(plugins)
        case .upload(let progress):
            "upload \(progress.upload): \(progress.datasetBytes) dataset bytes, \(progress.manifestBytes) manifest bytes received"
        case .submitted(let receipt): text(for: receipt)
        }
    }

    /// `name  value` lines with the values aligned.
    static func fields(_ pairs: [(String, String)]) -> String {
        var table = TextTable([.text(""), .text("")])
        for (name, value) in pairs { table.append([name, value]) }
        return table.render(includingHeader: false)
    }

    /// The fields of `job ID`, in the order an operator reads them.
    static func detailFields(_ detail: JobDetail) -> [(String, String)] {
        let job = detail.summary
        var pairs: [(String, String)] = [
            ("job", job.id),
            ("state", job.state.rawValue),
            ("account", job.account),
            ("dataset", job.dataset),
            ("strategy", "\(job.strategy) \(job.strategyVersion)"),
            ("backbone", detail.backbone),
            ("progress", "\(DisplayFormat.percent(job.progress)) (step \(detail.step)/\(detail.totalSteps))"),
            ("loss", DisplayFormat.loss(detail.loss)),
            ("epsilon", "\(DisplayFormat.epsilon(job.epsilonSpent)) of \(DisplayFormat.epsilon(job.epsilonTarget))"),
            ("delta", DisplayFormat.delta(detail.delta)),
            ("accountant", detail.accountant),
            ("charge", detail.chargeID ?? "-"),
            ("created", DisplayFormat.date(job.createdAt)),
            ("started", DisplayFormat.date(job.startedAt)),
            ("finished", DisplayFormat.date(job.finishedAt)),
        ]
        if let reason = job.reason { pairs.append(("reason", reason)) }
        if let adapter = job.adapterPath { pairs.append(("adapter", adapter)) }
        if let result = job.resultFile { pairs.append(("result", result)) }
        return pairs
    }

    private static func text(for status: DaemonStatus) -> String {
        let header = fields([
            ("version", status.version),
            ("uptime", DisplayFormat.duration(seconds: status.uptimeSeconds)),
            ("queued", "\(status.queueLength)"),
            ("running", "\(status.runningJobs.count)"),
            ("plugins", "\(status.pluginCount)"),
            ("ledger", status.ledgerPath),
        ])
        return status.runningJobs.isEmpty ? header : header + "\n\n" + jobsTable(status.runningJobs)
    }

    private static func jobsTable(_ jobs: [JobSummary]) -> String {
        var table = TextTable([
            .text("ID"), .text("ACCOUNT"), .text("DATASET"), .text("STRATEGY"), .text("STATE"),
            .number("PROGRESS"), .number("ε SPENT"), .number("ε TARGET"), .text("CREATED"),
        ])
        for job in jobs {
            table.append([
                job.id, job.account, job.dataset, "\(job.strategy) \(job.strategyVersion)", job.state.rawValue,
                DisplayFormat.percent(job.progress), DisplayFormat.epsilon(job.epsilonSpent),
                DisplayFormat.epsilon(job.epsilonTarget), DisplayFormat.date(job.createdAt),
            ])
        }
        return table.render()
    }

    private static func text(for report: LedgerReport) -> String {
        var table = TextTable([
            .text("TIME"), .text("CHARGE"), .text("JOB"), .text("ACCOUNT"), .text("TASK"), .text("STRATEGY"),
            .number("ε"), .text("STATE"), .text("MECHANISM"), .text("REASON"),
        ])
        for charge in report.charges {
            table.append([
                DisplayFormat.date(charge.time), charge.chargeID, charge.jobID, charge.account, charge.task ?? "-",
                charge.strategy, DisplayFormat.epsilon(charge.epsilon), charge.state.rawValue, charge.mechanism,
                charge.reason ?? "-",
            ])
        }
        guard let account = report.account else { return table.render() }
        return accountsTable([account]) + "\n\n" + table.render()
    }

    private static func accountsTable(_ accounts: [AccountSummary]) -> String {
        var table = TextTable([
            .text("ACCOUNT"), .number("ε CAP"), .number("ε SPENT"), .number("ε REMAINING"), .number("δ"),
            .number("JOBS"), .text("STATE"),
        ])
        for account in accounts {
            table.append([
                account.name, DisplayFormat.epsilon(account.epsilonCap), DisplayFormat.epsilon(account.epsilonSpent),
                DisplayFormat.epsilon(account.epsilonRemaining), DisplayFormat.delta(account.delta),
                "\(account.jobCount)", account.closedAt.map { "closed \(DisplayFormat.date($0))" } ?? "open",
            ])
        }
        return table.render()
    }

    private static func pluginsTable(_ plugins: [PluginSummary]) -> String {
        var table = TextTable([
            .text("STRATEGY"), .text("VERSION"), .text("STATE"), .text("LOADED"), .text("JOBS"), .text("FILE"),
            .text("REASON"),
        ])
        for plugin in plugins {
            table.append([
                plugin.id, plugin.version, plugin.state.rawValue, DisplayFormat.date(plugin.loadedAt),
                plugin.jobs.isEmpty ? "-" : plugin.jobs.joined(separator: ","), plugin.file, plugin.reason ?? "-",
            ])
        }
        return table.render()
    }

    private static func text(for receipt: SubmitReceipt) -> String {
        let job = receipt.jobID.map { " as job \($0)" } ?? "; follow it with `dptunectl jobs`"
        return "queued dataset \(receipt.dataset)\(job)"
    }
}

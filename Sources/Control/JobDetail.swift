// SPDX-License-Identifier: Apache-2.0

/// Everything `dptunectl job ID` shows: the summary plus the training plan and guarantee.
///
/// On the wire the summary's members and these sit side by side in one object, so a script
/// reading `job` output finds the same keys as in `jobs`.
public struct JobDetail: Sendable, Hashable, Codable {
    public var summary: JobSummary
    public var backbone: String
    public var delta: Double
    /// `rdp` or `prv`.
    public var accountant: String
    public var step: Int
    public var totalSteps: Int
    /// The last training loss, once a step has run.
    public var loss: Double?
    /// The ledger charge reserved at admission.
    public var chargeID: String?

    public init(
        summary: JobSummary, backbone: String, delta: Double, accountant: String,
        step: Int, totalSteps: Int, loss: Double? = nil, chargeID: String? = nil
    ) {
        self.summary = summary
        self.backbone = backbone
        self.delta = delta
        self.accountant = accountant
        self.step = step
        self.totalSteps = totalSteps
        self.loss = loss
        self.chargeID = chargeID
    }

    enum CodingKeys: String, CodingKey {
        case backbone, delta, accountant, step, loss
        case totalSteps = "total_steps"
        case chargeID = "charge_id"
    }

    public init(from decoder: any Decoder) throws {
        summary = try JobSummary(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        backbone = try container.decode(String.self, forKey: .backbone)
        delta = try container.decode(Double.self, forKey: .delta)
        accountant = try container.decode(String.self, forKey: .accountant)
        step = try container.decode(Int.self, forKey: .step)
        totalSteps = try container.decode(Int.self, forKey: .totalSteps)
        loss = try container.decodeIfPresent(Double.self, forKey: .loss)
        chargeID = try container.decodeIfPresent(String.self, forKey: .chargeID)
    }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(backbone, forKey: .backbone)
        try container.encode(delta, forKey: .delta)
        try container.encode(accountant, forKey: .accountant)
        try container.encode(step, forKey: .step)
        try container.encode(totalSteps, forKey: .totalSteps)
        try container.encodeIfPresent(loss, forKey: .loss)
        try container.encodeIfPresent(chargeID, forKey: .chargeID)
    }
}

// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import TestSupport
import Testing

/// `dptunectl privacy …` run as a user runs it: the built binary, its output and exit status.
@Suite struct PrivacyCommandTests {
    static let epsilonArguments = ["privacy", "epsilon", "--sampling-rate", "0.01", "--noise-multiplier", "1.1",
                                   "--steps", "1000", "--delta", "1e-5"]

    @Test func epsilonAsJSONMatchesTheAccountant() throws {
        let result = try ProductExecutable("dptunectl").run(["--json"] + Self.epsilonArguments)
        #expect(result.status == 0, "\(result.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["epsilon", "delta", "accountant", "order"])
        var accountant = RDPAccountant()
        try accountant.compose(.poissonSampled(probability: 0.01, event: .gaussian(noiseMultiplier: 1.1)), count: 1000)
        let (epsilon, order) = try accountant.epsilonAndOrder(delta: 1e-5)
        #expect(object["epsilon"] as? Double == epsilon)
        #expect(object["order"] as? Double == order)
        #expect(object["delta"] as? Double == 1e-5)
        #expect(object["accountant"] as? String == "rdp")
        #expect(result.standardOutput.hasPrefix(#"{"epsilon":"#))
    }

    @Test func epsilonForHumans() throws {
        let result = try ProductExecutable("dptunectl").run(Self.epsilonArguments + ["--accountant", "rdp"])
        #expect(result.status == 0)
        #expect(result.standardOutput.hasPrefix("epsilon 1.71"), "\(result.standardOutput)")
        #expect(result.standardOutput.contains("rdp accountant"))
    }

    @Test func calibrateAsJSON() throws {
        let result = try ProductExecutable("dptunectl").run(
            ["--json", "privacy", "calibrate", "--epsilon", "1", "--delta", "1e-5", "--sampling-rate", "0.01", "--steps", "1000"])
        #expect(result.status == 0, "\(result.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["noise_multiplier"])
        let sigma = try #require(object["noise_multiplier"] as? Double)
        #expect(abs(sigma - 1.513122221873908) <= 1e-3 * 1.513122221873908, "dp_accounting's calibration for these values")
    }

    @Test(arguments: [
        ("--sampling-rate", "1.5"), ("--sampling-rate", "0"), ("--noise-multiplier", "0"), ("--delta", "1"),
        ("--delta", "0"), ("--steps", "0"), ("--accountant", "moments"),
    ])
    func badArgumentIsUsageErrorNamingIt(_ option: String, _ value: String) throws {
        var arguments = Self.epsilonArguments
        if let index = arguments.firstIndex(of: option) {
            arguments[index + 1] = value
        } else {
            arguments += [option, value]
        }
        let result = try ProductExecutable("dptunectl").run(arguments)
        #expect(result.status == 2)
        #expect(result.standardError.contains(option), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
    }

    @Test func calibrateRefusesANonPositiveEpsilon() throws {
        let result = try ProductExecutable("dptunectl").run(
            ["privacy", "calibrate", "--epsilon", "0", "--delta", "1e-5", "--sampling-rate", "0.01", "--steps", "10"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("--epsilon"))
    }

    /// The PLD accountant answers in the same JSON shape, with no optimal order, and is
    /// tighter than RDP for the same run.
    @Test func pldAccountantIsTighterThanRDP() throws {
        func epsilon(_ accountant: String) throws -> (Double, Any) {
            let result = try ProductExecutable("dptunectl").run(["--json"] + Self.epsilonArguments + ["--accountant", accountant])
            #expect(result.status == 0, "\(result.standardError)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            #expect(object["accountant"] as? String == accountant)
            return (try #require(object["epsilon"] as? Double), object["order"] as Any)
        }
        let (pld, pldOrder) = try epsilon("pld")
        let (rdp, _) = try epsilon("rdp")
        #expect(pldOrder is NSNull)
        #expect(pld > 0 && pld < rdp)
    }

    @Test func helpIsNotAnError() throws {
        let result = try ProductExecutable("dptunectl").run(["--help"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("privacy"))
        #expect(result.standardOutput.contains("--socket"))
    }
}

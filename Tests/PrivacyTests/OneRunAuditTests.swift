// SPDX-License-Identifier: Apache-2.0
import Privacy
import Testing

@Suite struct OneRunAuditTests {
    /// Steinke, Nasr, Jagielski (2023) reference values: m = 1000, significance 0.05.
    static let references: [(guesses: Int, correct: Int, deltaZero: Double, deltaSmall: Double)] = [
        (10, 10, 1.052, 1.015),
        (100, 100, 3.493, 3.465),
        (1000, 1000, 5.809, 5.782),
        (100, 90, 1.631, 1.626),
        (200, 150, 0.821, 0.820),
    ]

    @Test(arguments: references)
    func matchesReferenceBounds(_ reference: (guesses: Int, correct: Int, deltaZero: Double, deltaSmall: Double)) throws {
        for (delta, expected) in [(0.0, reference.deltaZero), (1e-5, reference.deltaSmall)] {
            let epsilon = try OneRunAudit.epsilonLowerBound(
                canaries: 1000, guesses: reference.guesses, correct: reference.correct, delta: delta, significance: 0.05)
            #expect(abs(epsilon - expected) <= 1e-3, "r \(reference.guesses) v \(reference.correct) δ \(delta): \(epsilon) vs \(expected)")
        }
    }

    @Test func chanceLevelGuessesProveNothing() throws {
        #expect(try OneRunAudit.epsilonLowerBound(canaries: 1000, guesses: 200, correct: 100) == 0)
        #expect(try OneRunAudit.epsilonLowerBound(canaries: 1000, guesses: 0, correct: 0) == 0)
    }

    @Test func moreCorrectGuessesNeverLowerTheBound() throws {
        var previous = 0.0
        for correct in stride(from: 100, through: 200, by: 10) {
            let epsilon = try OneRunAudit.epsilonLowerBound(canaries: 1000, guesses: 200, correct: correct)
            #expect(epsilon >= previous)
            previous = epsilon
        }
    }

    @Test func guessesFromScores() throws {
        let scores = [0.9, 0.1, 0.8, 0.2, 0.5, 0.7, 0.3]
        let included = [true, false, false, false, true, true, true]
        // top 2: 0.9 (in ✓), 0.8 (out ✗); bottom 3: 0.1 (out ✓), 0.2 (out ✓), 0.3 (in ✗)
        let result = try OneRunAudit.guesses(scores: scores, included: included, positives: 2, negatives: 3)
        #expect(result.guesses == 5)
        #expect(result.correct == 3)
        #expect(throws: PrivacyError.self) { try OneRunAudit.guesses(scores: scores, included: [true], positives: 1, negatives: 0) }
        #expect(throws: PrivacyError.self) { try OneRunAudit.guesses(scores: scores, included: included, positives: 4, negatives: 4) }
    }

    @Test func badCountsThrow() {
        #expect(throws: PrivacyError.self) { try OneRunAudit.epsilonLowerBound(canaries: 10, guesses: 20, correct: 5) }
        #expect(throws: PrivacyError.self) { try OneRunAudit.epsilonLowerBound(canaries: 10, guesses: 5, correct: 6) }
        #expect(throws: PrivacyError.self) { try OneRunAudit.epsilonLowerBound(canaries: 10, guesses: 5, correct: 5, significance: 0) }
    }
}

// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing
import Training

/// The cuts cover the run in order, respect the chunk limit, and cost no more than any
/// other cut (checked against every cut of short runs).
struct LengthChunksTests {
    /// Σ (count · longest + overhead) of `ranges` over `lengths`.
    private func cost(_ ranges: [Range<Int>], _ lengths: [Int], overhead: Int) -> Int {
        ranges.reduce(0) { $0 + $1.count * (lengths[$1].max() ?? 0) + overhead }
    }

    /// The least cost over all 2^(n−1) ways to cut `lengths`, by enumeration.
    private func bruteForceCost(_ lengths: [Int], maxCount: Int, overhead: Int) -> Int {
        let n = lengths.count
        var best = Int.max
        for cuts in 0..<(1 << (n - 1)) {
            var ranges: [Range<Int>] = []
            var start = 0
            for i in 1..<n where cuts & (1 << (i - 1)) != 0 {
                ranges.append(start..<i)
                start = i
            }
            ranges.append(start..<n)
            guard ranges.allSatisfy({ $0.count <= maxCount }) else { continue }
            best = min(best, cost(ranges, lengths, overhead: overhead))
        }
        return best
    }

    @Test(arguments: [0, 7, 40])
    func theCutIsTheCheapestOfAll(overhead: Int) {
        var generator = SeededGenerator(seed: 11)
        for trial in 0..<60 {
            let n = 1 + trial % 11
            let lengths = (0..<n).map { _ in Int.random(in: 1...64, using: &generator) }
            let sorted = trial.isMultiple(of: 2) ? lengths.sorted() : lengths
            for maxCount in [1, 3, 32] {
                let ranges = LengthChunks(maxCount: maxCount, overheadTokens: overhead).ranges(lengths: sorted)
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == n)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(ranges.allSatisfy { !$0.isEmpty && $0.count <= maxCount })
                #expect(cost(ranges, sorted, overhead: overhead) == bruteForceCost(sorted, maxCount: maxCount, overhead: overhead),
                        "lengths \(sorted), maxCount \(maxCount)")
            }
        }
    }

    @Test func withoutOverheadNothingIsPadded() {
        let lengths = [3, 3, 3, 5, 5, 9, 9, 9, 9, 12]
        let ranges = LengthChunks(maxCount: 32, overheadTokens: 0).ranges(lengths: lengths)
        #expect(cost(ranges, lengths, overhead: 0) == lengths.reduce(0, +))
    }

    @Test func aLargeOverheadGivesTheFewestChunks() {
        let lengths = (1...70).map { $0 }
        let ranges = LengthChunks(maxCount: 32, overheadTokens: 1_000_000).ranges(lengths: lengths)
        #expect(ranges.count == 3)
    }

    @Test func anEmptyRunHasNoChunks() {
        #expect(LengthChunks(maxCount: 4, overheadTokens: 10).ranges(lengths: []).isEmpty)
    }

    /// Pieces split each cut into at most `parts` near-equal runs, cover every index once,
    /// and come costliest first.
    @Test(arguments: [1, 2, 3])
    func piecesSplitEachCutAndComeCostliestFirst(parts: Int) {
        var generator = SeededGenerator(seed: 12)
        let lengths = (0..<53).map { _ in Int.random(in: 1...64, using: &generator) }.sorted()
        let chunks = LengthChunks(maxCount: 8)
        let cuts = chunks.ranges(lengths: lengths)
        let pieces = chunks.pieces(lengths: lengths, parts: parts)
        #expect(pieces.flatMap { Array($0) }.sorted() == Array(lengths.indices))
        for cut in cuts {
            let inside = pieces.filter { $0.overlaps(cut) }
            #expect(inside.allSatisfy { cut.contains($0.lowerBound) && $0.upperBound <= cut.upperBound })
            #expect(inside.count == min(parts, cut.count))
            #expect((inside.map(\.count).max() ?? 0) - (inside.map(\.count).min() ?? 0) <= 1)
        }
        let costs = pieces.map { $0.count * (lengths[$0].max() ?? 0) }
        #expect(costs == costs.sorted(by: >))
    }
}


// SPDX-License-Identifier: Apache-2.0

/// Splits a run of sequences into consecutive chunks for the backbone, choosing the cuts
/// that minimize the tokens computed: every chunk pads to its longest member, and every
/// chunk also costs a fixed overhead.
///
/// Fixed chunks of 32 on the four-task benchmark (batches of 64 records averaging 33 real
/// tokens, sorted by length) computed 1.34 tokens per real token; the padding is spent in
/// the GEMMs, GELU and attention alike. Minimizing over the cuts (dynamic programming over
/// the n + 1 cut points, O(n·maxCount)) brings that to 1.09 (`dptune-eval --sections
/// performance` reports both). The overhead term keeps chunks from shrinking to one record:
/// a small chunk runs every kernel at a poor GEMM shape and pays each layer's fixed costs
/// again.
public struct LengthChunks: Sendable, Hashable {
    /// At most this many sequences per chunk (the backbone's activations are sized for it).
    public let maxCount: Int
    /// What one more chunk costs, in padded tokens.
    public let overheadTokens: Int

    /// A chunk's cost in padded tokens, measured: a MiniLM `lora` DP step on the four-task
    /// benchmark (expected batch 64, one OpenBLAS thread beside another one-thread job, 10
    /// steps) took 1.29 s with an overhead of 32 or 64 tokens, 1.30 s with 128, 1.42 s with
    /// 256, and 1.50 s with the fewest chunks.
    public static let defaultOverheadTokens = 64

    public init(maxCount: Int, overheadTokens: Int = defaultOverheadTokens) {
        precondition(maxCount >= 1, "a chunk holds at least one sequence")
        precondition(overheadTokens >= 0, "a chunk's overhead is not negative")
        self.maxCount = maxCount
        self.overheadTokens = overheadTokens
    }

    /// Consecutive ranges covering `lengths.indices`, none longer than ``maxCount``, that
    /// minimize Σ (count · longest + overhead). Sorting by length first is the caller's
    /// choice: the cut is optimal for the order given.
    public func ranges(lengths: [Int]) -> [Range<Int>] {
        let n = lengths.count
        guard n > 0 else { return [] }
        // cost[j]: the least cost of lengths[0..<j]; start[j]: where its last chunk starts
        var cost = [Int](repeating: .max, count: n + 1)
        var start = [Int](repeating: 0, count: n + 1)
        cost[0] = 0
        for end in 1...n {
            var longest = 0
            for first in stride(from: end - 1, through: max(0, end - maxCount), by: -1) {
                longest = max(longest, lengths[first])
                let total = cost[first] + (end - first) * longest + overheadTokens
                if total < cost[end] {
                    cost[end] = total
                    start[end] = first
                }
            }
        }
        var result: [Range<Int>] = []
        var end = n
        while end > 0 {
            result.append(start[end]..<end)
            end = start[end]
        }
        return result.reversed()
    }

    /// The cuts of ``ranges(lengths:)``, each split into up to `parts` consecutive pieces of
    /// about equal size, costliest piece first: what `parts` cores run at once, each taking
    /// the next piece when it is free, so that the last piece to start is a cheap one.
    public func pieces(lengths: [Int], parts: Int) -> [Range<Int>] {
        let pieces = ranges(lengths: lengths).flatMap { chunk in
            let count = min(max(parts, 1), chunk.count)
            return (0..<count).map { chunk.lowerBound + chunk.count * $0 / count ..< chunk.lowerBound + chunk.count * ($0 + 1) / count }
        }
        let cost = pieces.map { $0.count * (lengths[$0].max() ?? 0) }
        return pieces.indices.sorted { cost[$0] != cost[$1] ? cost[$0] > cost[$1] : $0 < $1 }.map { pieces[$0] }
    }
}


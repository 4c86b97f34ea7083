// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Synchronization

/// Runs `body` over `0..<count` split into contiguous chunks of at least `minimumChunk`
/// items, one chunk per configured thread (``BLAS/setThreadCount(_:)``), concurrently.
///
/// The engine's parallelism follows the one thread count that also governs OpenBLAS, so
/// `--threads 1` really means one core. Work too small to fill two chunks runs inline,
/// and so does a call made while another region is running (a nested call from a chunk,
/// or a second training loop in the same process): the cores are already busy.
///
/// While the chunks run, OpenBLAS is held at one thread, so `body` may call
/// ``BLAS/sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` without two callers
/// each waking a team of threads on the same cores.
///
/// Chunk `i` of `n` is `count·i/n ..< count·(i+1)/n`. A kernel whose items are computed
/// independently (rows, samples, heads) therefore gives bit-identical results for every
/// thread count.
///
/// - Parameters:
///   - maximumChunks: at most this many chunks, e.g. the number of per-chunk workspaces
///     the caller holds (size them by ``BLAS/threadCount``)
///   - body: called with the chunk's index in `0..<maximumChunks` and its range
/// - Important: `body` must write disjoint data for disjoint ranges.
public func concurrentChunks(
    _ count: Int, minimumChunk: Int, maximumChunks: Int = .max, _ body: @Sendable (_ chunk: Int, Range<Int>) -> Void
) {
    let chunks = min(BLAS.threadCount, count / max(minimumChunk, 1), maximumChunks)
    guard chunks > 1, BLAS.enterConcurrentRegion() else {
        body(0, 0..<count)
        return
    }
    defer { BLAS.leaveConcurrentRegion() }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        body(chunk, (count * chunk / chunks)..<(count * (chunk + 1) / chunks))
    }
}

/// ``concurrentChunks(_:minimumChunk:maximumChunks:_:)`` for a body without per-chunk workspace.
public func concurrentChunks(_ count: Int, minimumChunk: Int, _ body: @Sendable (Range<Int>) -> Void) {
    concurrentChunks(count, minimumChunk: minimumChunk) { _, range in body(range) }
}

/// Floats per chunk below which handing work to another core costs more than it saves
/// (waking a worker takes some microseconds; a core streams about 10⁴ floats in one).
public let minimumElementsPerChunk = 1 << 15

/// Rows of `width` floats per chunk, for ``minimumElementsPerChunk``.
public func minimumRowsPerChunk(width: Int) -> Int {
    max(1, minimumElementsPerChunk / max(width, 1))
}

/// Runs `body` once for every item of `0..<count` on up to `maximumWorkers` configured
/// threads, each worker taking the next item as soon as it is free.
///
/// For a few large items of uneven cost (a training step's length chunks) a fixed split
/// would leave one core waiting for the other; order the items longest first and the
/// queue balances them. Each item runs with OpenBLAS held at one thread and the engine's
/// own kernels inline, as inside ``concurrentChunks(_:minimumChunk:maximumChunks:_:)``, so
/// an item computes the same bits whichever worker runs it. With one worker, or when
/// called inside another region, the items run in order on the calling thread.
///
/// - Parameters:
///   - body: called with the worker's index in `0..<maximumWorkers` and the item; no two
///     concurrent calls share a worker index, so it may index per-worker state with it
/// - Important: `body` must write disjoint data for distinct items.
public func concurrentItems(
    _ count: Int, maximumWorkers: Int, _ body: @Sendable (_ worker: Int, _ item: Int) -> Void
) {
    let workers = min(BLAS.threadCount, count, maximumWorkers)
    guard workers > 1, BLAS.enterConcurrentRegion() else {
        for item in 0..<count { body(0, item) }
        return
    }
    defer { BLAS.leaveConcurrentRegion() }
    let next = Atomic(0)
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        while true {
            let item = next.add(1, ordering: .relaxed).oldValue
            guard item < count else { return }
            body(worker, item)
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
import Dispatch

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

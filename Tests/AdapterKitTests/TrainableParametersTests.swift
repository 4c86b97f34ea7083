// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Dispatch
import Linalg
import Synchronization
import Testing

@Suite struct TrainableParametersTests {
    /// Each thread sees the chunk offset it set, so two chunks running at once write their
    /// own samples' rows; a new batch starts every thread at row 0 again.
    @Test func chunkOffsetIsPerThread() {
        let parameters = TrainableParameters()
        let segment = parameters.addSegment(name: "w", shape: [3])
        var generator = SeededGenerator(seed: 1)
        parameters.seal(generator: &generator)
        parameters.reserveBatch(8)
        let rowsSeen = Mutex<[Int: Int]>([:])
        nonisolated(unsafe) let start = parameters.sampleGradients(segment, sample: 0)
        nonisolated(unsafe) let shared = parameters
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            shared.chunkOffset = 2 * thread
            // Give the other threads time to set theirs before this one reads its own.
            for _ in 0..<10_000 { _ = shared.chunkOffset }
            let row = (shared.sampleGradients(segment, sample: 1) - start) / shared.sampleStride
            rowsSeen.withLock { $0[thread] = row }
        }
        #expect(rowsSeen.withLock { $0 } == [0: 1, 1: 3, 2: 5, 3: 7])
        parameters.chunkOffset = 5
        parameters.reserveBatch(8)
        #expect(parameters.chunkOffset == 0)
    }
}

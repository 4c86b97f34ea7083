// SPDX-License-Identifier: Apache-2.0
import Linalg
import Synchronization
import Testing

@Suite struct ConcurrentChunksTests {
    /// Every index is visited exactly once, in contiguous chunks numbered below the limit,
    /// for counts that do not divide evenly.
    @Test(arguments: [0, 1, 2, 7, 1001])
    func chunksCoverEveryIndexOnce(count: Int) {
        BLAS.setThreadCount(2)
        let visits = Mutex([Int](repeating: 0, count: count))
        let chunks = Mutex<[(Int, Range<Int>)]>([])
        concurrentChunks(count, minimumChunk: 1, maximumChunks: 2) { chunk, range in
            visits.withLock { for i in range { $0[i] += 1 } }
            chunks.withLock { $0.append((chunk, range)) }
        }
        #expect(visits.withLock { $0 } == [Int](repeating: 1, count: count))
        #expect(chunks.withLock { $0.allSatisfy { $0.0 >= 0 && $0.0 < 2 } })
        #expect(Set(chunks.withLock { $0.map(\.0) }).count == chunks.withLock { $0.count })
    }

    /// Less than two chunks' worth of work, and a call from inside a chunk, run inline as one chunk.
    @Test func smallAndNestedWorkRunsInline() {
        BLAS.setThreadCount(2)
        let inner = Mutex<[Int]>([])
        concurrentChunks(3, minimumChunk: 2) { chunk, range in
            #expect(chunk == 0 && range == 0..<3)
        }
        concurrentChunks(2, minimumChunk: 1) { range in
            concurrentChunks(100, minimumChunk: 1) { chunk, nested in
                #expect(nested == 0..<100)
                inner.withLock { $0.append(chunk) }
            }
        }
        #expect(inner.withLock { $0 } == [0, 0])
    }

    /// Every item runs exactly once; concurrent calls never share a worker index; a nested
    /// call runs its items in order on the calling thread as worker 0.
    @Test(arguments: [0, 1, 2, 9])
    func itemsRunOnceEachOnDistinctWorkers(count: Int) {
        BLAS.setThreadCount(2)
        let visits = Mutex([Int](repeating: 0, count: count))
        let busy = Mutex<Set<Int>>([])
        let overlapped = Mutex(false)
        let nested = Mutex<[[Int]]>([])
        concurrentItems(count, maximumWorkers: 3) { worker, item in
            #expect(worker >= 0 && worker < 2)
            busy.withLock { if !$0.insert(worker).inserted { overlapped.withLock { $0 = true } } }
            visits.withLock { $0[item] += 1 }
            let inner = Mutex<[Int]>([])
            concurrentItems(3, maximumWorkers: 2) { innerWorker, innerItem in
                #expect(innerWorker == 0)
                inner.withLock { $0.append(innerItem) }
            }
            nested.withLock { $0.append(inner.withLock { $0 }) }
            busy.withLock { _ = $0.remove(worker) }
        }
        #expect(visits.withLock { $0 } == [Int](repeating: 1, count: count))
        #expect(!overlapped.withLock { $0 })
        #expect(nested.withLock { $0 } == [[Int]](repeating: [0, 1, 2], count: count))
    }

    /// Callers that overlap get distinct buffers; a buffer returned to the pool is lent again.
    @Test func scratchIsNotSharedByOverlappingCallers() {
        let pool = ScratchPool()
        let first = pool.withScratch(count: 8) { outer in
            pool.withScratch(count: 8) { inner in
                #expect(inner != outer)
                return UInt(bitPattern: outer)
            }
        }
        let again = pool.withScratch(count: 4) { UInt(bitPattern: $0) }
        let grown = pool.withScratch(count: 1 << 16) { buffer in
            buffer[(1 << 16) - 1] = 1
            return buffer[(1 << 16) - 1]
        }
        #expect(again == first)
        #expect(grown == 1)
    }

    /// The kernels split by rows, elements or samples give bit-identical results at one and
    /// two threads, on sizes that no chunking divides evenly.
    @Test func kernelsGiveTheSameBitsAtOneAndTwoThreads() {
        let N = 4099, C = 37, M = N * C
        let x = randomFloats(M, seed: 1), y = randomFloats(M, seed: 2), g = randomFloats(M, seed: 3)
        let w = randomFloats(C, seed: 4), bias = randomFloats(C, seed: 5)
        let targets = (0..<N).map { Int32($0 % (C + 3)) - 3 }
        func run() -> [[Float]] {
            var results: [[Float]] = []
            var out = [Float](repeating: 0, count: M), d = [Float](repeating: 0.5, count: M)
            var mean = [Float](repeating: 0, count: N), rstd = [Float](repeating: 0, count: N)
            layerNormForward(out: &out, mean: &mean, rstd: &rstd, input: x, weight: w, bias: bias, N: N, C: C, eps: 1e-5)
            results += [out, mean, rstd]
            var dw = [Float](repeating: 0, count: C), db = [Float](repeating: 0, count: C)
            layerNormBackward(dinput: &d, dweight: &dw, dbias: &db, dout: g, input: x, weight: w, mean: mean, rstd: rstd, N: N, C: C)
            results += [d, dw, db]
            rmsNormForward(out: &out, rstd: &rstd, input: x, weight: w, B: 1, T: N, C: C, epsilon: 1e-5)
            results += [out, rstd]
            rmsNormBackward(dinp: &d, dweight: &dw, rstd: rstd, dout: g, input: x, weight: w, B: 1, T: N, C: C)
            results += [d, dw]
            softmaxForward(out: &out, input: x, N: N, K: C)
            results.append(out)
            softmaxBackward(dinput: &d, dout: g, out: out, N: N, K: C)
            results.append(d)
            var losses = [Float](repeating: 0, count: N)
            crossEntropyForward(losses: &losses, probs: &out, logits: x, targets: targets, N: N, V: C)
            crossEntropyBackward(dlogits: &d, dlosses: y, probs: out, targets: targets, N: N, V: C)
            results += [losses, d]
            for form in [GELUForm.erf, .tanh] {
                geluForward(out: &out, input: x, N: M, form: form)
                geluBackward(dinput: &d, dout: g, input: x, N: M, form: form)
                results += [out, d]
            }
            residualForward(out: &out, a: x, b: y, N: M)
            var d2 = d
            residualBackward(da: &d, db: &d2, dout: g, N: M)
            results += [out, d, d2]
            swigluForward(out: &out, gate: x, up: y, B: 1, T: N, H: C)
            swigluBackward(dgate: &d, dup: &d2, dout: g, gate: x, up: y, B: 1, T: N, H: C)
            results += [out, d, d2]
            var products = [Float](repeating: 1, count: 7 * 5 * 6)
            BLAS.sgemmStridedBatched(transA: true, m: 5, n: 6, k: 37, alpha: 0.5, a: x, lda: 5, strideA: 5 * 37,
                                     b: y, ldb: 6, strideB: 6 * 37, beta: 1, c: &products, ldc: 6, strideC: 30, count: 7)
            results.append(products)
            return results
        }
        BLAS.setThreadCount(1)
        let serial = run()
        BLAS.setThreadCount(2)
        let parallel = run()
        #expect(serial.count == parallel.count)
        for (index, (a, b)) in zip(serial, parallel).enumerated() {
            #expect(a == b, "result \(index) differs between one and two threads")
        }
    }
}

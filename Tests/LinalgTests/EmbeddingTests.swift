// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct EmbeddingTests {
    let V = 4, C = 3

    @Test func gatherAccumulatesRows() {
        let table: [Float] = (0..<12).map(Float.init)
        let ids: [Int32] = [2, 0, 2]
        var out = [Float](repeating: 1, count: 9)
        embeddingForward(out: &out, ids: ids, table: table, N: 3, V: V, C: C)
        #expect(out == [7, 8, 9, 1, 2, 3, 7, 8, 9])
    }

    @Test func scatterAddMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 5)
        let table = randomFloats(V * C, &rng)
        let ids: [Int32] = [1, 3, 1, 0, 1]
        let r = randomFloats(ids.count * C, &rng)
        var dtable = [Float](repeating: 0, count: V * C)
        embeddingBackward(dtable: &dtable, dout: r, ids: ids, N: ids.count, V: V, C: C)
        expectGradientMatchesFiniteDifferences(analytic: dtable, at: table) { t in
            var out = [Float](repeating: 0, count: ids.count * C)
            embeddingForward(out: &out, ids: ids, table: t, N: ids.count, V: V, C: C)
            return dot(out, r)
        }
    }
}

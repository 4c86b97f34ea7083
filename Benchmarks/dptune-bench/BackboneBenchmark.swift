// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import BenchmarkProbes
import Foundation
import Linalg
import Transformer

/// Backbone forward and forward+backward throughput, as a share of this machine's SGEMM peak.
struct BackboneBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backbone", abstract: "Encoder forward and forward+backward tokens/s (default: MiniLM, 32 x 128).")

    @Option(help: "A Hugging Face model directory (BERT, GPT-2 or Llama family) or a Llama .gguf file.")
    var model = "../shared/models/minilm-l6"
    @Option var batch = 32
    @Option var seqLen = 128
    @Option var threads = 2
    @Flag(help: "Run every product on OpenBLAS instead of the engine's AVX-512 kernel, for comparison.")
    var openblas = false
    @Option(help: "Timed repetitions (the median is reported).")
    var repeats = 5

    /// A hook that does nothing, so that backward runs through every block.
    final class FullBackward: LinearHook {}

    func run() throws {
        BLAS.setThreadCount(threads)
        if openblas { BLAS.setUsesAVX512Kernel(false) }
        let backbone = try loadBackbone(url: URL(fileURLWithPath: model))
        let tokens = batch * seqLen
        var generator = SeededGenerator(seed: 1)
        let ids = (0..<tokens).map { _ in Int32.random(in: 1000..<20_000, using: &generator) }
        let mask = [Int32](repeating: 1, count: tokens)
        let gradient = [Float](repeating: 1e-3, count: tokens * backbone.hiddenSize)
        if let lowest = backbone.linearSites.min(by: { $0.layer < $1.layer }) {
            backbone.setHook(FullBackward(), for: lowest)
        }

        let forward = medianSeconds(repeats: repeats) {
            _ = backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: batch, seqLen: seqLen)
        }
        let forwardBackward = medianSeconds(repeats: repeats) {
            _ = backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: batch, seqLen: seqLen)
            gradient.withUnsafeBufferPointer { backbone.backward(lastHiddenGradient: $0.baseAddress!) }
        }

        // Dense work per token and block: the linear layers (2·d_in·d_out each) and the two
        // attention products (2·2·T·C). Backward without weight gradients costs the same again.
        let linear = backbone.linearSites.reduce(0.0) { $0 + 2 * Double($1.inFeatures * $1.outFeatures) }
        let attention = Double(backbone.layerCount) * 4 * Double(seqLen * backbone.hiddenSize)
        let forwardFLOPs = Double(tokens) * (linear + attention)
        let peak = median(sgemmGFLOPs(m: 4096, n: 384, k: 384, repeats: 9))

        let widths = [34, 14, 10, 12]
        print("\(model), batch \(batch) x \(seqLen) tokens, \(threads) threads; SGEMM 4096x384x384 peak \(String(format: "%.1f", peak)) GFLOP/s")
        print(row(["pass", "tokens/s", "GFLOP/s", "of SGEMM"], widths: widths))
        for (name, seconds, flops) in [("forward", forward, forwardFLOPs), ("forward + backward (frozen)", forwardBackward, 2 * forwardFLOPs)] {
            let gflops = flops / seconds / 1e9
            print(row([name, String(format: "%.0f", Double(tokens) / seconds), String(format: "%.1f", gflops),
                       String(format: "%.0f%%", 100 * gflops / peak)], widths: widths))
        }
        if let llama = backbone as? LlamaModel {
            // Greedy generation with the key/value cache: one sequence, prompt of seqLen tokens.
            let newTokens = 32
            let decoder = GreedyDecoder(model: llama, stopTokens: [])
            let prompt = Array(ids[0..<seqLen])
            let seconds = medianSeconds(repeats: repeats) { _ = decoder.generate(prompt: prompt, maxNewTokens: newTokens) }
            print(String(format: "greedy generation (%d-token prompt + %d new tokens): %.1f new tokens/s", seqLen, newTokens,
                         Double(newTokens) / seconds))
        }
        print(String(format: "peak RSS %.0f MiB (the model file is memory-mapped and counts when touched)", peakResidentMiB()))
    }
}

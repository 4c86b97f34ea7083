// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Cryptographically secure Gaussian noise for DP-SGD (DESIGN §4.3, invariant 3).
///
/// Random bits come from ChaCha20 in counter mode, keyed with 256 bits from the kernel
/// (`getrandom(2)`); an adversary who sees every released value learns nothing about the
/// noise beyond what the Gaussian mechanism already assumes. Seeds for reproducibility apply to
/// data sampling and initialization, never here: the only seeded constructor is
/// ``insecureReproducible(seed:)``, reserved for tests and the explicitly flagged
/// `insecure_reproducible_noise` mode.
///
/// ## The transform
///
/// Each pair of normals comes from two uniforms by Box–Muller,
/// z₀ = √(−2 ln u₁)·cos 2πu₂ and z₁ = √(−2 ln u₁)·sin 2πu₂, which is an exact identity in
/// distribution, evaluated in Double. Why Box–Muller:
/// - it consumes a fixed 128 bits per pair with no rejection loop, so a reproducible stream is
///   position-stable and a chunk's output never depends on another chunk (Marsaglia's polar
///   method and the ziggurat draw a data-dependent number of uniforms);
/// - it needs no tables and no tail special cases, each of which is a place to get the
///   distribution subtly wrong.
/// Uniforms take 53 random bits k and are exact in Double: u₁ = (k₁ + 1)·2⁻⁵³ ∈ (0, 1], so
/// ln u₁ is finite, and u₂ = k₂·2⁻⁵³ ∈ [0, 1) for the angle. (The tempting (k + ½)·2⁻⁵³ is not
/// representable above ½ and would round unevenly.) The smallest u₁ is 2⁻⁵³, so
/// |z| ≤ √(106 ln 2) ≈ 8.57: the true Gaussian puts mass ≈ 10⁻¹⁷ beyond that, far below
/// anything training could notice. Each value is scaled in Double and only then rounded to
/// Float. Known limitation, shared by every floating-point sampler: outputs lie on a finite
/// grid (cf. Mironov, CCS 2012), while the accounting treats them as exact Gaussians.
///
/// - Important: thread-safe; concurrent calls reserve disjoint blocks of the stream. Each call
///   draws fresh ChaCha20 blocks (leftover values of a block are discarded), so a reproducible
///   source yields the same values for the same sequence of calls and lengths. A large buffer is
///   filled by all cores, in chunks of 64 Ki values, with the same result as one thread.
public final class GaussianNoiseSource: Sendable {
    private struct State {
        let cipher: ChaCha20
        /// ChaCha20 state words 12–13 (block counter) and 14–15 (stream nonce).
        var counter: UInt64
        let nonce: UInt64
    }

    private let state: Mutex<State>

    /// A source keyed from the kernel's random number generator.
    ///
    /// - Throws: ``PrivacyError`` with code `.randomnessUnavailable` when `getrandom(2)` fails.
    public convenience init() throws {
        let words = try kernelRandomWords(10)
        self.init(key: Array(words[0..<8]), nonce: UInt64(words[8]) | UInt64(words[9]) << 32)
    }

    private init(key: [UInt32], nonce: UInt64) {
        state = Mutex(State(cipher: ChaCha20(key: key), counter: 0, nonce: nonce))
    }

    /// A source whose noise is a fixed function of `seed`. NOT PRIVATE: anyone who knows or
    /// guesses the seed can subtract the noise. Only for tests and the explicitly flagged
    /// `insecure_reproducible_noise` mode.
    public static func insecureReproducible(seed: UInt64) -> GaussianNoiseSource {
        // SplitMix64 spreads the 64-bit seed over the 256-bit key.
        var x = seed
        var key: [UInt32] = []
        for _ in 0..<4 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            key.append(UInt32(truncatingIfNeeded: z))
            key.append(UInt32(truncatingIfNeeded: z >> 32))
        }
        return GaussianNoiseSource(key: key, nonce: 0)
    }

    /// Adds independent N(0, standardDeviation²) noise to every element of `buffer`.
    public func addNoise(to buffer: UnsafeMutableBufferPointer<Float>, standardDeviation: Double) {
        generate(into: buffer, standardDeviation: standardDeviation, accumulate: true)
    }

    /// Overwrites every element of `buffer` with independent N(0, standardDeviation²) noise.
    public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, standardDeviation: Double) {
        generate(into: buffer, standardDeviation: standardDeviation, accumulate: false)
    }

    private func generate(into buffer: UnsafeMutableBufferPointer<Float>, standardDeviation: Double, accumulate: Bool) {
        precondition(standardDeviation >= 0 && standardDeviation.isFinite,
                     "noise standard deviation must be finite and ≥ 0; found \(standardDeviation)")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let count = buffer.count
        let blocks = (count + 7) / 8  // a block is 16 words = 8 uniforms = 8 normals
        // Reserve this call's blocks under the lock; generate outside it.
        let (cipher, counter, nonce) = state.withLock { state -> (ChaCha20, UInt64, UInt64) in
            let first = state.counter
            state.counter += UInt64(blocks)
            return (state.cipher, first, state.nonce)
        }
        // Counter mode makes block b's values independent of every other block, so chunks of
        // blocks run in parallel and the output does not depend on the number of threads.
        let blocksPerChunk = 8192
        let chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk
        let output = SharedMutablePointer(base)
        concurrentChunks(chunks, minimumChunk: 1) { range in
            for chunk in range {
                let firstBlock = chunk * blocksPerChunk
                let lastBlock = min(firstBlock + blocksPerChunk, blocks)
                fillBlocks(firstBlock..<lastBlock, of: cipher, counter: counter, nonce: nonce, into: output.base,
                           count: count, standardDeviation: standardDeviation, accumulate: accumulate)
            }
        }
    }
}

/// Writes the normals of keystream blocks `blocks` (8 per block) to `base[8·b ..< 8·b + 8]`,
/// stopping at `count`.
private func fillBlocks(_ blocks: Range<Int>, of cipher: ChaCha20, counter: UInt64, nonce: UInt64,
                        into base: UnsafeMutablePointer<Float>, count: Int,
                        standardDeviation: Double, accumulate: Bool) {
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { words in
        let keystream = words.baseAddress!
        for block in blocks {
            let position = counter &+ UInt64(block)
            cipher.block(SIMD4(UInt32(truncatingIfNeeded: position), UInt32(truncatingIfNeeded: position >> 32),
                               UInt32(truncatingIfNeeded: nonce), UInt32(truncatingIfNeeded: nonce >> 32)),
                         into: keystream)
            for pair in 0..<4 {
                let index = 8 * block + 2 * pair
                guard index < count else { return }
                let bits1 = UInt64(keystream[4 * pair]) | UInt64(keystream[4 * pair + 1]) << 32
                let bits2 = UInt64(keystream[4 * pair + 2]) | UInt64(keystream[4 * pair + 3]) << 32
                let (z0, z1) = boxMuller(radiusUniform(bits1), angleUniform(bits2))
                let v0 = Float(standardDeviation * z0)
                base[index] = accumulate ? base[index] + v0 : v0
                guard index + 1 < count else { return }
                let v1 = Float(standardDeviation * z1)
                base[index + 1] = accumulate ? base[index + 1] + v1 : v1
            }
        }
    }
}

/// (k + 1)·2⁻⁵³ for the top 53 bits k of `bits`: uniform on a grid in (0, 1], exactly representable.
@inline(__always)
func radiusUniform(_ bits: UInt64) -> Double {
    Double((bits >> 11) + 1) * 0x1p-53
}

/// k·2⁻⁵³ for the top 53 bits k of `bits`: uniform on a grid in [0, 1), exactly representable.
@inline(__always)
func angleUniform(_ bits: UInt64) -> Double {
    Double(bits >> 11) * 0x1p-53
}

/// Two independent standard normals from u₁ uniform in (0, 1] and u₂ uniform in [0, 1).
@inline(__always)
func boxMuller(_ u1: Double, _ u2: Double) -> (Double, Double) {
    let radius = (-2 * log(u1)).squareRoot()
    let angle = 2 * Double.pi * u2
    return (radius * cos(angle), radius * sin(angle))
}

/// `count` words from `getrandom(2)`, retrying on interruption and short reads.
///
/// Glibc's Swift module does not export `getrandom` (and `syscall` is variadic, so Swift
/// cannot call it), so the symbol is looked up in the already-loaded C library.
private func kernelRandomWords(_ count: Int) throws -> [UInt32] {
    typealias GetRandom = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Int
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "getrandom") else {
        throw PrivacyError(.randomnessUnavailable, "getrandom(2) not found in the C library; refusing to make noise")
    }
    let getrandom = unsafeBitCast(symbol, to: GetRandom.self)
    var words = [UInt32](repeating: 0, count: count)
    try words.withUnsafeMutableBytes { bytes in
        var filled = 0
        while filled < bytes.count {
            let result = getrandom(bytes.baseAddress! + filled, bytes.count - filled, 0)
            if result < 0 {
                if errno == EINTR { continue }
                throw PrivacyError(.randomnessUnavailable, "getrandom(2) failed with errno \(errno); refusing to make noise")
            }
            filled += result
        }
    }
    return words
}

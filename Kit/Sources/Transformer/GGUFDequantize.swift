// SPDX-License-Identifier: Apache-2.0

// Block layouts follow ggml's definitions (ggml-common.h, dequantize_row_* in ggml-quants.c).
// Every multi-byte field is little-endian and may sit at any byte offset (blocks are 18, 20, …
// bytes long), so fields are read with unaligned loads. Half-precision fields are IEEE binary16.
//
//   Q4_0  (32 values, 18 B): d:f16 | qs[16]          y[j] = (lo(qs[j]) - 8)·d, y[j+16] = (hi(qs[j]) - 8)·d
//   Q4_1  (32 values, 20 B): d:f16 m:f16 | qs[16]    y[j] = lo(qs[j])·d + m,   y[j+16] = hi(qs[j])·d + m
//   Q5_0  (32 values, 22 B): d:f16 | qh:u32 | qs[16] 5th bit of y[j] is qh bit j, of y[j+16] bit j+16; minus 16
//   Q5_1  (32 values, 24 B): d:f16 m:f16 | qh:u32 | qs[16]   as Q5_0 without the offset, times d plus m
//   Q8_0  (32 values, 34 B): d:f16 | qs:i8[32]       y[j] = qs[j]·d
//   Q4_K (256 values, 144 B): d:f16 dmin:f16 | scales[12] (8 pairs of 6-bit scale/min) | qs[128]
//   Q5_K (256 values, 176 B): d:f16 dmin:f16 | scales[12] | qh[32] | qs[128]
//   Q6_K (256 values, 210 B): ql[128] | qh[64] | scales:i8[16] | d:f16
//
// K-quant super-blocks hold 8 (Q4_K, Q5_K) or 16 (Q6_K) sub-blocks, each with its own scale.

@inline(__always)
private func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

extension GGUFTensorType {
    /// Dequantizes `count` values (a whole number of blocks) stored at `source` into `out`.
    ///
    /// The caller has checked ``canDequantize`` and that `source` holds ``byteCount(values:)``
    /// bytes; `out` holds `count` floats.
    func dequantize(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(canDequantize, "\(name) cannot be dequantized")
        precondition(count % blockSize == 0, "\(count) values are not whole \(name) blocks")
        let blocks = count / blockSize
        switch self {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            for i in 0..<count { out[i] = half(source, 2 * i) }
        case .bf16:
            for i in 0..<count {
                let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                out[i] = Float(bitPattern: bits)
            }
        case .q4_0:
            for b in 0..<blocks { dequantizeQ4(source + b * 18, out + b * 32, hasMin: false) }
        case .q4_1:
            for b in 0..<blocks { dequantizeQ4(source + b * 20, out + b * 32, hasMin: true) }
        case .q5_0:
            for b in 0..<blocks { dequantizeQ5(source + b * 22, out + b * 32, hasMin: false) }
        case .q5_1:
            for b in 0..<blocks { dequantizeQ5(source + b * 24, out + b * 32, hasMin: true) }
        case .q8_0:
            for b in 0..<blocks { dequantizeQ8_0(source + b * 34, out + b * 32) }
        case .q4_K:
            for b in 0..<blocks { dequantizeQ4_K(source + b * 144, out + b * 256) }
        case .q5_K:
            for b in 0..<blocks { dequantizeQ5_K(source + b * 176, out + b * 256) }
        case .q6_K:
            for b in 0..<blocks { dequantizeQ6_K(source + b * 210, out + b * 256) }
        default:
            preconditionFailure("\(name) is listed as dequantizable but has no kernel")
        }
    }
}

/// Q4_0 (`hasMin` false: signed nibbles, offset 8) and Q4_1 (unsigned nibbles plus a min).
@inline(__always)
private func dequantizeQ4(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, hasMin: Bool) {
    let d = half(block, 0)
    let qs = (block + (hasMin ? 4 : 2)).assumingMemoryBound(to: UInt8.self)
    if hasMin {
        let m = half(block, 2)
        for j in 0..<16 {
            y[j] = Float(qs[j] & 0x0F) * d + m
            y[j + 16] = Float(qs[j] >> 4) * d + m
        }
    } else {
        for j in 0..<16 {
            y[j] = Float(Int(qs[j] & 0x0F) - 8) * d
            y[j + 16] = Float(Int(qs[j] >> 4) - 8) * d
        }
    }
}

/// Q5_0 (5-bit values offset by 16) and Q5_1 (unsigned 5-bit values plus a min).
@inline(__always)
private func dequantizeQ5(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, hasMin: Bool) {
    let d = half(block, 0)
    let m: Float = hasMin ? half(block, 2) : 0
    let offset = hasMin ? 0 : 16
    let qhOffset = hasMin ? 4 : 2
    let qh = block.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self).littleEndian
    let qs = (block + qhOffset + 4).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
        let high0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
        let high1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
        y[j] = Float(Int((qs[j] & 0x0F) | high0) - offset) * d + m
        y[j + 16] = Float(Int((qs[j] >> 4) | high1) - offset) * d + m
    }
}

@inline(__always)
private func dequantizeQ8_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(block, 0)
    let qs = (block + 2).assumingMemoryBound(to: Int8.self)
    for j in 0..<32 { y[j] = Float(qs[j]) * d }
}

/// The 6-bit scale and min of sub-block `j` (0..<8) packed in Q4_K/Q5_K's 12 scale bytes:
/// sub-blocks 0–3 use the low 6 bits of bytes j and j+4; sub-blocks 4–7 use the nibbles of
/// byte j+4 for the low 4 bits and the top 2 bits of bytes j-4 and j for the high 2 bits.
@inline(__always)
private func scaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: Float, min: Float) {
    if j < 4 { return (Float(q[j] & 63), Float(q[j + 4] & 63)) }
    let scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)
    let min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4)
    return (Float(scale), Float(min))
}

private func dequantizeQ4_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(block, 0)
    let dmin = half(block, 2)
    let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
    let qs = (block + 16).assumingMemoryBound(to: UInt8.self)
    for chunk in 0..<4 {  // 64 values: the low nibbles of 32 bytes, then their high nibbles
        let (s1, m1) = scaleMin(2 * chunk, scales)
        let (s2, m2) = scaleMin(2 * chunk + 1, scales)
        let d1 = d * s1, min1 = dmin * m1, d2 = d * s2, min2 = dmin * m2
        let q = qs + 32 * chunk
        let yc = y + 64 * chunk
        for l in 0..<32 {
            yc[l] = d1 * Float(q[l] & 0x0F) - min1
            yc[l + 32] = d2 * Float(q[l] >> 4) - min2
        }
    }
}

private func dequantizeQ5_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(block, 0)
    let dmin = half(block, 2)
    let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
    let qh = (block + 16).assumingMemoryBound(to: UInt8.self)
    let qs = (block + 48).assumingMemoryBound(to: UInt8.self)
    for chunk in 0..<4 {  // as Q4_K; the 5th bits of chunk c are bits 2c and 2c+1 of qh[l]
        let (s1, m1) = scaleMin(2 * chunk, scales)
        let (s2, m2) = scaleMin(2 * chunk + 1, scales)
        let d1 = d * s1, min1 = dmin * m1, d2 = d * s2, min2 = dmin * m2
        let bit1 = UInt8(1) << UInt8(2 * chunk), bit2 = UInt8(2) << UInt8(2 * chunk)
        let q = qs + 32 * chunk
        let yc = y + 64 * chunk
        for l in 0..<32 {
            let high1: UInt8 = qh[l] & bit1 != 0 ? 16 : 0
            let high2: UInt8 = qh[l] & bit2 != 0 ? 16 : 0
            yc[l] = d1 * Float((q[l] & 0x0F) + high1) - min1
            yc[l + 32] = d2 * Float((q[l] >> 4) + high2) - min2
        }
    }
}

private func dequantizeQ6_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(block, 208)
    for half128 in 0..<2 {  // two halves of 128 values: 64 ql bytes, 32 qh bytes, 8 scales each
        let ql = (block + 64 * half128).assumingMemoryBound(to: UInt8.self)
        let qh = (block + 128 + 32 * half128).assumingMemoryBound(to: UInt8.self)
        let sc = (block + 192 + 8 * half128).assumingMemoryBound(to: Int8.self)
        let yh = y + 128 * half128
        for l in 0..<32 {
            let s = l / 16
            let q1 = Int((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
            let q2 = Int((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
            let q3 = Int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
            let q4 = Int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
            yh[l] = d * Float(sc[s]) * Float(q1)
            yh[l + 32] = d * Float(sc[s + 2]) * Float(q2)
            yh[l + 64] = d * Float(sc[s + 4]) * Float(q3)
            yh[l + 96] = d * Float(sc[s + 6]) * Float(q4)
        }
    }
}

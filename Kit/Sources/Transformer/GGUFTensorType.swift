// SPDX-License-Identifier: Apache-2.0

/// A ggml tensor type: how many values one block holds and how many bytes it takes.
///
/// ggml keeps adding types, so this is an open set of known ids rather than an enum; the reader
/// refuses ids it does not know (it could not even tell where such a tensor ends) and
/// ``canDequantize`` says which known types become Float32.
public struct GGUFTensorType: Sendable, Hashable, CustomStringConvertible {
    /// The id GGUF stores (ggml's `enum ggml_type`).
    public let rawValue: UInt32
    /// ggml's name for the type, e.g. "Q4_1".
    public let name: String
    /// Values per block (1 for plain number types, 32 or 256 for quantized ones).
    public let blockSize: Int
    /// Bytes per block.
    public let typeSize: Int

    private init(_ rawValue: UInt32, _ name: String, _ blockSize: Int, _ typeSize: Int) {
        self.rawValue = rawValue
        self.name = name
        self.blockSize = blockSize
        self.typeSize = typeSize
    }

    /// The known type with this id, or nil.
    public init?(rawValue: UInt32) {
        guard let known = Self.known.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = known
    }

    public static let f32 = Self(0, "F32", 1, 4)
    public static let f16 = Self(1, "F16", 1, 2)
    public static let q4_0 = Self(2, "Q4_0", 32, 18)
    public static let q4_1 = Self(3, "Q4_1", 32, 20)
    public static let q5_0 = Self(6, "Q5_0", 32, 22)
    public static let q5_1 = Self(7, "Q5_1", 32, 24)
    public static let q8_0 = Self(8, "Q8_0", 32, 34)
    public static let q4_K = Self(12, "Q4_K", 256, 144)
    public static let q5_K = Self(13, "Q5_K", 256, 176)
    public static let q6_K = Self(14, "Q6_K", 256, 210)
    public static let bf16 = Self(30, "BF16", 1, 2)

    /// Every type whose block geometry we know, from ggml's type traits (gguf-py 0.19's
    /// `GGML_QUANT_SIZES`). Q8_1 is left out on purpose: its size changed across ggml versions
    /// and it only ever exists as a matmul intermediate, never in a file.
    static let known: [GGUFTensorType] = [
        .f32, .f16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
        Self(10, "Q2_K", 256, 84), Self(11, "Q3_K", 256, 110), .q4_K, .q5_K, .q6_K,
        Self(15, "Q8_K", 256, 292), Self(16, "IQ2_XXS", 256, 66), Self(17, "IQ2_XS", 256, 74),
        Self(18, "IQ3_XXS", 256, 98), Self(19, "IQ1_S", 256, 50), Self(20, "IQ4_NL", 32, 18),
        Self(21, "IQ3_S", 256, 110), Self(22, "IQ2_S", 256, 82), Self(23, "IQ4_XS", 256, 136),
        Self(24, "I8", 1, 1), Self(25, "I16", 1, 2), Self(26, "I32", 1, 4), Self(27, "I64", 1, 8),
        Self(28, "F64", 1, 8), Self(29, "IQ1_M", 256, 56), .bf16, Self(34, "TQ1_0", 256, 54),
        Self(35, "TQ2_0", 256, 66), Self(39, "MXFP4", 32, 17),
    ]

    /// Whether ``GGUFFile/dequantize(_:into:)`` can turn this type into Float32.
    public var canDequantize: Bool {
        [Self.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K].contains(self)
    }

    /// Bytes taken by `count` values, which must be a whole number of blocks.
    func byteCount(values count: Int) -> Int { count / blockSize * typeSize }

    public var description: String { name }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = rows of the current batch (samples), P_g = parameters of segment g.
import Linalg

/// The trainable parameters of one job and the per-sample gradients of the current batch.
///
/// The adapter and the trainer's head each declare segments here; both then read values
/// and write per-sample gradients by segment index, so neither needs to know where the
/// other's parameters sit. Per-sample gradients are instantiated (one row per sample and
/// segment) because adapters are small: at batch 64 the rows of a rank-8 LoRA on MiniLM
/// take 19 MB, and in exchange clipping, per-unit summation and group-wise norms become
/// plain row operations that the trainer owns. No hook can skip clipping: it only ever
/// writes gradients, the trainer alone turns them into an update.
///
/// - Important: one training loop owns it. During a step's forward and backward the
///   values are only read and each thread writes its own samples' rows (through its own
///   ``chunkOffset``), so chunks may run on several threads; everything else is not
///   thread-safe. Pointers stay valid until the next ``reserveBatch(_:)`` that grows the batch.
public final class TrainableParameters {
    /// How a segment's values start.
    public enum Initialization: Sendable, Hashable {
        case zeros
        /// N(0, std²), from the job's public seed.
        case normal(standardDeviation: Float)
        /// Uniform in [-bound, bound], from the job's public seed (PyTorch's Kaiming-uniform
        /// with a = √5 is `bound = 1/√fan_in`).
        case uniform(bound: Float)
    }

    public private(set) var segments: [ParameterSegment] = []
    private var initializations: [Initialization] = []
    private var storage = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var sampleRows = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    /// Sample rows currently reserved.
    public private(set) var batch = 0
    /// The row of sample 0 of the current forward/backward call on the calling thread: the
    /// trainer runs a large batch in chunks and moves this so hooks keep indexing samples
    /// from 0.
    ///
    /// It is per thread because the trainer may run two chunks at once on replicas of the
    /// backbone, each on its own thread, and hooks are called on the thread that runs the
    /// chunk (``LinearHook``). A thread that never set it reads 0.
    public var chunkOffset: Int {
        get { chunkOffsets.value ?? 0 }
        set { chunkOffsets.value = newValue }
    }
    private let chunkOffsets = PerThreadValue<Int>()
    private var isSealed = false

    public init() {}

    deinit {
        storage.deallocate()
        sampleRows.deallocate()
    }

    /// The total number of trainable parameters.
    public var count: Int { segments.last.map { $0.offset + $0.count } ?? 0 }

    /// Declares a segment; returns its index for ``values(_:)`` and ``sampleGradients(_:)``.
    ///
    /// - Precondition: called before ``seal(generator:)``, with a name not used before.
    @discardableResult
    public func addSegment(name: String, shape: [Int], task: String? = nil,
                           initialization: Initialization = .zeros) -> Int {
        precondition(!isSealed, "segment \(name) declared after the parameters were sealed")
        precondition(!segments.contains { $0.name == name }, "segment \(name) declared twice")
        segments.append(ParameterSegment(name: name, offset: count, shape: shape, task: task))
        initializations.append(initialization)
        return segments.count - 1
    }

    /// Allocates the values and initializes them in segment order from `generator`.
    public func seal(generator: inout SeededGenerator) {
        precondition(!isSealed, "parameters sealed twice")
        isSealed = true
        storage = .allocate(capacity: count)
        storage.initialize(repeating: 0)
        for (segment, initialization) in zip(segments, initializations) {
            for i in segment.range {
                switch initialization {
                case .zeros: storage[i] = 0
                case .normal(let std): storage[i] = std * Float(generator.nextStandardNormal())
                case .uniform(let bound): storage[i] = bound * Float(2 * generator.nextOpenUnitDouble() - 1)
                }
            }
        }
    }

    /// The index of the segment called `name`, if any.
    public func index(of name: String) -> Int? {
        segments.firstIndex { $0.name == name }
    }

    /// Segment `g`'s values, row-major in its shape.
    public func values(_ g: Int) -> UnsafeMutablePointer<Float> {
        precondition(isSealed, "parameters read before they were sealed")
        return storage.baseAddress! + segments[g].offset
    }

    /// All values, flat, in segment order.
    public var flatValues: UnsafeMutableBufferPointer<Float> {
        precondition(isSealed, "parameters read before they were sealed")
        return storage
    }

    /// Makes room for `rows` samples and zeroes their gradients; the trainer calls it
    /// before each backward.
    public func reserveBatch(_ rows: Int) {
        precondition(isSealed, "batch reserved before the parameters were sealed")
        if sampleRows.count < rows * count {
            sampleRows.deallocate()
            sampleRows = .allocate(capacity: rows * count)
        }
        sampleRows.baseAddress?.initialize(repeating: 0, count: rows * count)
        batch = rows
        chunkOffsets.removeAll()
    }

    /// All per-sample gradients of the batch, `(B, count)`: row `s` is sample `s`'s
    /// gradient over every segment.
    public var flatSampleGradients: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: sampleRows[0..<(batch * count)])
    }

    /// Segment `g`'s block of sample `s`'s gradient row: hooks *add* their contribution here.
    /// Consecutive samples are `count` floats apart (see ``sampleStride``).
    public func sampleGradients(_ g: Int, sample s: Int) -> UnsafeMutablePointer<Float> {
        let row = chunkOffset + s
        precondition(row < batch, "sample \(row) outside the reserved batch of \(batch)")
        return sampleRows.baseAddress! + row * count + segments[g].offset
    }

    /// The distance in floats between two samples' rows.
    public var sampleStride: Int { count }
}

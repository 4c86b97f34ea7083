// SPDX-License-Identifier: Apache-2.0
import Linalg
import Transformer

/// Saved adapters are safetensors files whose tensor names are the segment names (for
/// LoRA, PEFT's state-dict keys), so a published adapter and a PEFT one load alike.
extension TrainableParameters {
    /// Replaces every segment's values with the tensor of the same name in `file`.
    ///
    /// The whole file is checked before any value changes, so a refused file leaves the
    /// parameters as they were. F16 and BF16 tensors are widened exactly.
    ///
    /// - Throws: ``AdapterError`` `.incompatibleParameters` naming every missing tensor,
    ///   every shape that differs from its segment's, and every tensor no segment declares
    ///   (an adapter trained for other layers must not load half-way).
    public func load(from file: SafetensorsFile) throws(AdapterError) {
        var problems: [String] = []
        for segment in segments {
            guard let entry = file.entries[segment.name] else {
                problems.append("no tensor \(segment.name)")
                continue
            }
            if entry.shape != segment.shape {
                problems.append("\(segment.name) has shape \(entry.shape); the adapter needs \(segment.shape)")
            }
            if entry.dtype == .i64 {
                problems.append("\(segment.name) is I64, not a float tensor")
            }
        }
        let declared = Set(segments.map(\.name))
        let unused = file.names.filter { !declared.contains($0) }
        if !unused.isEmpty {
            problems.append("tensors no segment declares: \(unused.joined(separator: ", "))")
        }
        guard problems.isEmpty else {
            throw AdapterError(.incompatibleParameters, "\(file.url.path): \(problems.joined(separator: "; "))")
        }
        for (g, segment) in segments.enumerated() {
            let tensor: Tensor
            do {
                tensor = try file.tensor(segment.name)
            } catch {
                throw AdapterError(.incompatibleParameters, "\(file.url.path): \(segment.name): \(error)")
            }
            let destination = values(g)
            tensor.withUnsafeBufferPointer { source in
                for i in 0..<segment.count { destination[i] = source[i] }
            }
        }
    }

    /// Every segment's current values, by segment name, for `SafetensorsFile.write`.
    public func namedTensors() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: segments.enumerated().map { g, segment in
            (segment.name, Tensor(shape: segment.shape, copying: values(g)))
        })
    }
}

import Foundation
import SafeTensors

/// Weights on disk: safetensors files with PyTorch's names and layouts (see
/// `ParameterStore`), so a PyTorch model of the same configuration loads them with
/// `load_state_dict`, and this store loads PyTorch's.
extension ParameterStore where Scalar == Float {
    /// The parameters as F32 tensors, named as in PyTorch; `metadata` is stored beside them
    /// (the model configuration, for instance).
    public func namedTensors() -> [NamedTensor] {
        tensors.map { t in
            NamedTensor(t.name, shape: t.shape, Array(UnsafeBufferPointer(start: values.baseAddress! + t.offset, count: t.count)))
        }
    }

    /// Writes the parameters atomically (temporary file and rename).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try writeSafeTensors(namedTensors(), metadata: metadata, to: url)
    }

    /// Replaces every parameter with the tensor of the same name in `file`. Refuses, with
    /// the tensor's name, a missing or unexpected tensor, a wrong shape, a dtype that is
    /// not a float, and a value that is not finite; nothing is changed unless all pass.
    /// Tensors named in `others` may be in the file too (a classifier's head, say).
    public func load(from file: SafeTensorsFile, others: Set<String> = []) throws {
        let expected = Set(tensors.map(\.name)).union(others)
        if let extra = file.tensors.first(where: { !expected.contains($0.name) }) {
            throw NetworkError.shapeMismatch("the file has a tensor '\(extra.name)' that this model does not")
        }
        for t in tensors {
            guard let info = file.info(t.name) else {
                throw NetworkError.shapeMismatch("the file has no tensor '\(t.name)'")
            }
            guard info.shape == t.shape else {
                throw NetworkError.shapeMismatch("'\(t.name)' has shape \(info.shape) in the file, \(t.shape) in the model")
            }
            try file.checkFloats(t.name, requireFinite: true)
        }
        // Every check passed: straight from the file's buffer into the parameters.
        for t in tensors {
            try file.copyFloats(t.name, into: UnsafeMutableBufferPointer(rebasing: values[t.offset..<(t.offset + t.count)]))
        }
    }

    public func load(from url: URL) throws {
        try load(from: SafeTensorsFile(contentsOf: url))
    }
}

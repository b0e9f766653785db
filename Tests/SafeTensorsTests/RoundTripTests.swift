import Foundation
import SafeTensors
import Testing

@Test func roundTripThroughAFile() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("model.safetensors")

    let weight: [Float] = (0..<12).map { Float($0) * 0.25 - 1 }
    let tensors = [
        NamedTensor("w", shape: [3, 4], weight),
        NamedTensor("scalar", shape: [], [Float.pi]),
        NamedTensor("empty", shape: [0, 5], []),
        NamedTensor("d", shape: [2], .float64([1e300, -0.1])),
        NamedTensor("steps", shape: [3], .int64([Int64.min, 0, Int64.max])),
        NamedTensor("名字 \"quoted\"\n", shape: [1], [-0.0]),
    ]
    let metadata = ["format": "pt", "note": "tab\there, \u{1} and ünïcode"]
    try writeSafeTensors(tensors, metadata: metadata, to: url)

    let file = try SafeTensorsFile(contentsOf: url)
    #expect(file.metadata == metadata)
    #expect(Set(file.tensors.map(\.name)) == Set(tensors.map(\.name)))
    #expect(try file.floats("w") == weight)
    #expect(file.info("w")?.shape == [3, 4])
    #expect(try file.floats("scalar") == [Float.pi])
    #expect(file.info("scalar")?.shape == [])
    #expect(try file.floats("empty") == [])
    #expect(file.info("empty")?.shape == [0, 5])
    #expect(try file.doubles("d") == [1e300, -0.1])
    #expect(try file.int64s("steps") == [Int64.min, 0, Int64.max])
    let negativeZero = try file.floats("名字 \"quoted\"\n")
    #expect(negativeZero.count == 1 && negativeZero[0].sign == .minus)
    // Only the target file is left in the folder: the temporary file was renamed.
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
    // The file and the in-memory encoding are the same bytes.
    #expect(try [UInt8](Data(contentsOf: url)) == encodeSafeTensors(tensors, metadata: metadata))
}

@Test func writerOrderIsDeterministicAndIndependentOfInputOrder() throws {
    let tensors = [
        NamedTensor("b", shape: [1], [1]),
        NamedTensor("a", shape: [1], [2]),
        NamedTensor("i", shape: [1], .int64([3])),
        NamedTensor("f", shape: [1], .float64([4])),
    ]
    let forward = try encodeSafeTensors(tensors, metadata: ["z": "1", "a": "2"])
    let backward = try encodeSafeTensors(tensors.reversed(), metadata: ["a": "2", "z": "1"])
    #expect(forward == backward)
    // Descending alignment rank as the reference orders dtypes (I64 > F64 > F32), then name.
    let file = try SafeTensorsFile(bytes: forward)
    #expect(file.tensors.map(\.name) == ["i", "f", "a", "b"])
    #expect(file.tensors.map(\.dataOffsets) == [0..<8, 8..<16, 16..<20, 20..<24])
}

@Test func writerRefusesInconsistentTensors() throws {
    func refusal(_ tensors: [NamedTensor]) -> String? {
        do {
            _ = try encodeSafeTensors(tensors)
            return nil
        } catch let SafeTensorsError.invalidTensor(name, reason) {
            return "\(name): \(reason)"
        } catch {
            return "unexpected \(error)"
        }
    }
    #expect(refusal([NamedTensor("w", shape: [2, 2], [1, 2, 3])]) == "w: shape [2, 2] has 4 elements, 3 values given")
    #expect(refusal([NamedTensor("w", shape: [-1], [])]) == "w: dimension 0 is negative")
    #expect(refusal([NamedTensor("w", shape: [1], [1]), NamedTensor("w", shape: [1], [2])]) == "w: the name is used twice")
    #expect(refusal([NamedTensor("__metadata__", shape: [1], [1])]) == "__metadata__: the name is reserved for the metadata")
    #expect(refusal([NamedTensor("\u{E9}", shape: [1], [1]), NamedTensor("e\u{301}", shape: [1], [2])])
        == "e\u{301}: the name is canonically equivalent to \"\u{E9}\"")
    #expect(refusal([NamedTensor("big", shape: [Int.max, 2], [])]) == "big: shape [\(Int.max), 2] overflows")
}

@Test func writeFailureLeavesTheTargetUntouched() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("model.safetensors")
    try writeSafeTensors([NamedTensor("w", shape: [1], [1])], to: url)
    let before = try Data(contentsOf: url)
    #expect(throws: SafeTensorsError.self) {
        try writeSafeTensors([NamedTensor("w", shape: [2], [1])], to: url)
    }
    #expect(try Data(contentsOf: url) == before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
    // A missing folder is an I/O error naming the temporary file's path, not a crash.
    let missing = folder.appendingPathComponent("no-such-folder/model.safetensors")
    let error = #expect(throws: SafeTensorsError.self) {
        try writeSafeTensors([NamedTensor("w", shape: [1], [1])], to: missing)
    }
    guard case let .io(operation, _, code)? = error else { Issue.record("expected .io, got \(String(describing: error))"); return }
    #expect(operation == "create" && code == ENOENT)
}

@Test func missingFileIsAnIOErrorNamingThePath() {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).safetensors").path
    #expect(refusal { try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path)) } == .io(operation: "open", path: path, errno: ENOENT))
}

/// Files are mapped, not read: an empty file, a folder and a truncated file are refused with
/// their reasons, and a file replaced while an earlier reading of it is open leaves that
/// reading as it was (writers rename a new file over the old one).
@Test func mappedFilesAreRefusedOrKeptAsTheyWere() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("model.safetensors")

    try Data().write(to: url)
    #expect(refusal { try SafeTensorsFile(contentsOf: url) } == .fileTooShort(byteCount: 0))
    #expect(refusal { try SafeTensorsFile(contentsOf: folder) } == .io(operation: "map (not a regular file)", path: folder.path, errno: EINVAL))

    try writeSafeTensors([NamedTensor("w", shape: [3], [1, 2, 3] as [Float])], to: url)
    let bytes = try Data(contentsOf: url)
    try bytes.dropLast(4).write(to: url)
    #expect(refusal { try SafeTensorsFile(contentsOf: url) } == .tensorBeyondBuffer(tensor: "w", end: 12, bufferSize: 8))

    try writeSafeTensors([NamedTensor("w", shape: [3], [1, 2, 3] as [Float])], to: url)
    let first = try SafeTensorsFile(contentsOf: url)
    try writeSafeTensors([NamedTensor("w", shape: [3], [4, 5, 6] as [Float])], to: url)
    #expect(try first.floats("w") == [1, 2, 3])
    #expect(try SafeTensorsFile(contentsOf: url).floats("w") == [4, 5, 6])
}

// Helper for scripts/check-safetensors-interop: writes a sample file shaped like the state dict
// of `torch.nn.LSTM(I, H)`, and dumps any safetensors file as JSON so Python can compare values.
import Foundation
import SafeTensors

let usage = """
    usage: safetensors-tool write-lstm FILE INPUT_SIZE HIDDEN_SIZE
           safetensors-tool dump FILE
    """

/// The sample's value for element `k` of the tensor at `tensorIndex`: a multiple of 1/64 in
/// [-50/64, 50/64], exact in Float32, so both sides can recompute it and compare with ==.
func sampleValue(tensor tensorIndex: Int, element k: Int) -> Float {
    Float((k * 37 + tensorIndex * 11) % 101 - 50) / 64
}

func writeLSTM(path: String, inputSize: Int, hiddenSize: Int) throws {
    let shapes: [(String, [Int])] = [
        ("weight_ih_l0", [4 * hiddenSize, inputSize]),
        ("weight_hh_l0", [4 * hiddenSize, hiddenSize]),
        ("bias_ih_l0", [4 * hiddenSize]),
        ("bias_hh_l0", [4 * hiddenSize]),
    ]
    let tensors = shapes.enumerated().map { t, entry in
        NamedTensor(entry.0, shape: entry.1,
                    (0..<entry.1.reduce(1, *)).map { sampleValue(tensor: t, element: $0) })
    }
    let metadata = ["format": "pt", "model": "lstm", "gate_order": "i,f,g,o",
                    "input_size": "\(inputSize)", "hidden_size": "\(hiddenSize)"]
    try writeSafeTensors(tensors, metadata: metadata, to: URL(fileURLWithPath: path))
}

func jsonString(_ s: String) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: s, options: .fragmentsAllowed), as: UTF8.self)
}

/// Python's json module reads bare NaN / Infinity / -Infinity.
func jsonNumber(_ x: Double) -> String {
    x.isNaN ? "NaN" : x.isInfinite ? (x > 0 ? "Infinity" : "-Infinity") : "\(x)"
}

func dump(path: String) throws {
    let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path))
    var out = "{\"metadata\":{"
    out += file.metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(file.metadata[$0]!))" }.joined(separator: ",")
    out += "},\"tensors\":{"
    out += try file.tensors.map { info in
        let values: [String]
        switch info.dtype {
        case .float64, .float32, .float16, .bfloat16: values = try file.doubles(info.name).map(jsonNumber)
        default: values = try file.int64s(info.name).map { "\($0)" }
        }
        return "\(jsonString(info.name)):{\"dtype\":\"\(info.dtype.rawValue)\",\"shape\":\(info.shape),"
            + "\"data_offsets\":[\(info.dataOffsets.lowerBound),\(info.dataOffsets.upperBound)],"
            + "\"values\":[\(values.joined(separator: ","))]}"
    }.joined(separator: ",")
    out += "}}"
    print(out)
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "write-lstm" where arguments.count == 4:
        guard let i = Int(arguments[2]), let h = Int(arguments[3]), i > 0, h > 0 else {
            FileHandle.standardError.write(Data("Error: sizes must be positive integers\n\(usage)\n".utf8))
            exit(2)
        }
        try writeLSTM(path: arguments[1], inputSize: i, hiddenSize: h)
    case "dump" where arguments.count == 2:
        try dump(path: arguments[1])
    default:
        FileHandle.standardError.write(Data("\(usage)\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
    exit(1)
}

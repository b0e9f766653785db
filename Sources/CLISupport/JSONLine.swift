import Foundation

/// One JSON object per line on standard output, keys sorted, as every tool's `--json` prints.
public enum JSONLine {
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The value as one line of JSON (with the line break).
    public static func bytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try encoder.encode(value)) + [0x0A]
    }

    /// Writes the value to standard output at once (not buffered: scripts read it as it comes).
    public static func print<T: Encodable>(_ value: T) throws {
        FileHandle.standardOutput.write(Data(try bytes(value)))
    }
}

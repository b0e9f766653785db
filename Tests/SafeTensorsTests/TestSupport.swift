import Testing
import SafeTensors

/// A complete file: the 8-byte little-endian length of `header`, `header` (not padded: tests
/// choose their own padding), then `buffer`.
func craftedFile(_ header: String, buffer: [UInt8] = []) -> [UInt8] {
    let json = Array(header.utf8)
    return littleEndianLength(UInt64(json.count)) + json + buffer
}

func littleEndianLength(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } }

/// The error `body` throws, or nil if it returns.
func refusal<T>(_ body: () throws -> T) -> SafeTensorsError? {
    do {
        _ = try body()
        return nil
    } catch let error as SafeTensorsError {
        return error
    } catch {
        Issue.record("not a SafeTensorsError: \(error)")
        return nil
    }
}


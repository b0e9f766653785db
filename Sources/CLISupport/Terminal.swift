import Foundation
import Text

/// Helpers shared by the command-line tools: standard streams, exit codes, memory.
public enum Terminal {
    public static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    public static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    public static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// Peak resident memory of this process in bytes (VmHWM), or nil where unknown.
    public static func peakMemoryBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

/// Buffered writer to standard output (or a file descriptor): tokens are printed a line
/// at a time, so the syscalls must be batched. `flush` when a consumer waits for output.
public final class OutputBuffer: OutputSink {
    private var buffer: [UInt8] = []
    private let fd: Int32
    private let limit: Int

    public init(fileDescriptor: Int32 = 1, limit: Int = 1 << 16) {
        fd = fileDescriptor
        self.limit = limit
        buffer.reserveCapacity(limit * 2)
    }

    public func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= limit { flush() }
    }

    public func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= limit { flush() }
    }

    public func flush() {
        var written = 0
        buffer.withUnsafeBytes { raw in
            while written < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
                if n <= 0 {
                    if errno == EINTR { continue }
                    return  // a closed pipe (e.g. `| head`): drop the rest quietly
                }
                written += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

import Foundation

/// Reads lines from a sequence of file descriptors on a thread of its own and hands them over
/// in whatever amount has arrived: a slow producer (`tail -f`) yields one line at a time, so
/// each is answered at once; a fast one (a file) yields many, which the caller batches.
///
/// A line longer than `maxLineBytes` is not kept: its first bytes stand for it, flagged
/// `oversized`, and the rest is skipped up to the next line break.
final class LineSource: @unchecked Sendable {  // every shared field is guarded by `condition`
    struct Line {
        var bytes: [UInt8]
        var oversized = false
        var length = 0
    }

    private let condition = NSCondition()
    private var queue: [Line] = []
    private var finished = false
    private var failure: String?

    init(paths: [String], maxLineBytes: Int) {
        let thread = Thread { [self] in read(paths: paths, maxLineBytes: maxLineBytes) }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits for at least one line and returns every line queued (at most `limit`); nil when
    /// the input is exhausted. Throws the reader's error (an unreadable file) after the lines
    /// before it.
    func next(limit: Int) throws -> [Line]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished { condition.wait() }
        if queue.isEmpty {
            if let failure { throw ReadError(message: failure) }
            return nil
        }
        let count = min(limit, queue.count)
        let lines = Array(queue[..<count])
        queue.removeFirst(count)
        condition.signal()
        return lines
    }

    struct ReadError: Error, CustomStringConvertible { let message: String; var description: String { message } }

    private func push(_ line: Line) {
        condition.lock()
        // Bounded: a producer far ahead of the model waits instead of filling memory.
        while queue.count >= 4096 { condition.wait() }
        queue.append(line)
        condition.signal()
        condition.unlock()
    }

    private func read(paths: [String], maxLineBytes: Int) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for path in paths {
            let fd = path == "-" ? 0 : open(path, O_RDONLY)
            if fd < 0 {
                finish(failure: "cannot open '\(path)': \(String(cString: strerror(errno)))")
                return
            }
            var current = Line(bytes: [])
            var pending = false  // bytes after the last line break
            while true {
                let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    finish(failure: "cannot read '\(path)': \(String(cString: strerror(errno)))")
                    return
                }
                if n == 0 { break }
                var start = 0
                while start < n {
                    let end = buffer[start..<n].firstIndex(of: 0x0A) ?? n
                    current.length += end - start
                    if current.length > maxLineBytes {
                        if !current.oversized { current.bytes.removeAll() }
                        current.oversized = true
                    } else {
                        current.bytes += buffer[start..<end]
                    }
                    if end < n {
                        push(current)
                        current = Line(bytes: [])
                        pending = false
                    } else {
                        pending = pending || end > start
                    }
                    start = end + 1
                }
            }
            if pending { push(current) }
            if fd != 0 { close(fd) }
        }
        finish(failure: nil)
    }

    private func finish(failure: String?) {
        condition.lock()
        finished = true
        self.failure = failure
        condition.broadcast()
        condition.unlock()
    }
}

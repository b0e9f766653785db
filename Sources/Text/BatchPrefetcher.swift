import Dispatch

/// Reads the next batch of lines on a thread of its own while the current one is being
/// encoded, so that reading, splitting and copying lines overlap with the encoders instead
/// of idling both cores between batches. A read error surfaces when the batch it stopped
/// is asked for, after everything before it has been handled.
final class BatchPrefetcher: @unchecked Sendable {  // `reader` and `pending` are handed over through `ready`
    private var reader: LineReader
    private var pending: Result<(batch: LineReader.Batch?, bytesRead: Int), Error>?
    private let ready = DispatchGroup()
    private let queue = DispatchQueue(label: "line-prefetch")
    private let targetBytes: Int

    init(_ reader: LineReader, targetBytes: Int) {
        self.reader = reader
        self.targetBytes = targetBytes
        startReading()
    }

    private func startReading() {
        ready.enter()
        queue.async {
            self.pending = Result { (try self.reader.nextBatch(targetBytes: self.targetBytes), self.reader.bytesRead) }
            self.ready.leave()
        }
    }

    /// The next batch (nil at the end) and the bytes read up to it; starts reading the one after.
    func next() throws -> (batch: LineReader.Batch, bytesRead: Int)? {
        ready.wait()
        let result = pending!
        pending = nil
        let (batch, bytesRead) = try result.get()
        guard let batch else { return nil }
        startReading()
        return (batch, bytesRead)
    }

    deinit { ready.wait() }  // never free the reader under a read in flight
}

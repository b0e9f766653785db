#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Zero-filled buffers that cost nothing until they are used.
///
/// A large block is a fresh anonymous mapping: the kernel hands out its pages zeroed on first
/// touch, so a buffer that is never written (the gradients of a model loaded only to predict)
/// or only partly (a table filled row by row as tokens turn up) never costs its whole size.
/// `initialize(repeating: 0)` wrote every page up front: loading the sentiment classifier
/// faulted in and cleared about 150 MB that way, for a one-line prediction. Small blocks come
/// from the allocator, zeroed. Both are 64-byte aligned (whole pages for mappings).
public enum ZeroedMemory {
    /// Blocks of at least this many bytes are mapped; smaller ones allocated.
    static let mappingThreshold = 256 << 10

    /// `count` (at least 1) zeroed elements of a trivial type; free with `deallocate`.
    public static func allocate<T: BitwiseCopyable>(_: T.Type, count: Int) -> UnsafeMutableBufferPointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        let raw: UnsafeMutableRawPointer
        if bytes >= mappingThreshold {
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  p != MAP_FAILED else {
                fatalError("ZeroedMemory: cannot map \(bytes) bytes (errno \(errno))")
            }
            raw = p
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        }
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: T.self, capacity: max(1, count)), count: count)
    }

    /// Frees a buffer from `allocate` (with the count it was allocated with).
    public static func deallocate<T: BitwiseCopyable>(_ buffer: UnsafeMutableBufferPointer<T>) {
        guard let base = buffer.baseAddress else { return }
        let bytes = max(1, buffer.count) * MemoryLayout<T>.stride
        if bytes >= mappingThreshold {
            munmap(UnsafeMutableRawPointer(base), bytes)
        } else {
            UnsafeMutableRawPointer(base).deallocate()
        }
    }
}

import Kernels

/// One contiguous, zero-initialized block of scalars from which a set of buffers is carved
/// (llm.c's "one malloc per kind of state"). Built in two passes with the same carving code:
/// `Arena.measure { arena in ... }` counts what the closure takes, then the real arena of that
/// size hands out the pointers. The arena owns the memory and frees it on deinit; the carved
/// pointers must not outlive it.
final class Arena<Scalar: NetworkScalar> {
    /// nil while measuring.
    private let block: UnsafeMutableBufferPointer<Scalar>?
    private var base: UnsafeMutablePointer<Scalar>? { block?.baseAddress }
    private(set) var used = 0
    let capacity: Int

    private init(capacity: Int, measuring: Bool) {
        self.capacity = capacity
        // 64-byte aligned, like the kernels' packed panels; pages of a large arena that a
        // smaller shape never reaches (inference buffers serve every smaller batch) stay unmapped.
        block = measuring ? nil : ZeroedMemory.allocate(Scalar.self, count: max(1, capacity))
    }

    deinit { block.map { ZeroedMemory.deallocate($0) } }

    /// The next `count` scalars. While measuring, a placeholder pointer that must not be used.
    func take(_ count: Int) -> UnsafeMutablePointer<Scalar> {
        // Rounded up to 16 scalars so every buffer starts on a 64-byte boundary (Float).
        let rounded = (count + 15) / 16 * 16
        defer { used += rounded }
        guard let base else {
            return UnsafeMutablePointer(bitPattern: 64)!
        }
        guard used + rounded <= capacity else {
            fatalError("Arena: carving \(count) past the measured capacity \(capacity)")
        }
        return base + used
    }

    /// Every scalar of the arena (for saving and restoring state).
    var contents: UnsafeMutableBufferPointer<Scalar> {
        UnsafeMutableBufferPointer(start: base, count: base == nil ? 0 : capacity)
    }

    /// Sets every scalar to zero.
    func zero() { base?.update(repeating: 0, count: capacity) }

    /// Runs `carve` on a measuring arena, then on a real one of the measured size, and returns
    /// the real arena with what `carve` built from it.
    static func build<T>(_ carve: (Arena) -> T) -> (Arena, T) {
        let measuring = Arena(capacity: 0, measuring: true)
        _ = carve(measuring)
        let arena = Arena(capacity: measuring.used, measuring: false)
        return (arena, carve(arena))
    }
}

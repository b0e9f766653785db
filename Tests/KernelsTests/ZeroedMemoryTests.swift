import Kernels
import Testing

@Test(arguments: [0, 1, 17, 65_535, 65_536, 3_000_001])
func zeroedMemoryIsZeroAlignedAndWritable(count: Int) {
    // Below and above the size at which blocks are mapped instead of allocated.
    let buffer = ZeroedMemory.allocate(Float.self, count: count)
    defer { ZeroedMemory.deallocate(buffer) }
    #expect(buffer.count == count)
    #expect(Int(bitPattern: buffer.baseAddress) % 64 == 0)
    #expect(buffer.allSatisfy { $0 == 0 })
    for i in stride(from: 0, to: count, by: 997) { buffer[i] = Float(i) }
    for i in stride(from: 0, to: count, by: 997) { #expect(buffer[i] == Float(i)) }
}

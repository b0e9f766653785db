import Foundation
import Testing
import TestSupport

// Proves the release build of the Kernels module contains fused multiply-adds: without
// `-Xcc -march=x86-64-v3` every `addProduct` lane compiles to a call to `fmaf` instead, and the
// kernels run about 60x slower while still passing every numeric test.

/// Counts, over the functions of module Kernels (Swift symbols starting `$s7Kernels`) in this
/// test binary, the AVX FMA instructions on ymm or zmm registers (an AVX-512 build) and the
/// calls to `fmaf`.
private func kernelsFMACounts() throws -> (vectorFMA: Int, fmafCalls: Int) {
    let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let data = try commandOutput(["objdump", "-d", "--no-show-raw-insn", binary], hint: "install binutils")
    var inKernels = false
    var vectorFMA = 0, fmafCalls = 0
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        if line.hasSuffix(">:") {  // "0000000000012340 <symbol>:" starts a function
            inKernels = line.contains("<$s7Kernels")
        } else if inKernels {
            if line.contains("vfmadd") || line.contains("vfmsub") || line.contains("vfnmadd") {
                if line.contains("ymm") || line.contains("zmm") { vectorFMA += 1 }
            } else if line.contains("call") && line.contains("<fmaf") {
                fmafCalls += 1
            }
        }
    }
    return (vectorFMA, fmafCalls)
}

@Test func kernelsAreCompiledWithFusedMultiplyAdd() throws {
    #if PORTABLE_BUILD || !arch(x86_64)
    print("SKIPPED kernelsAreCompiledWithFusedMultiplyAdd: portable build (PORTABLE_BUILD set or not x86-64); the kernels use baseline instructions")
    #else
    let counts = try kernelsFMACounts()
    print("Kernels module: \(counts.vectorFMA) vfmadd/vfmsub on ymm or zmm, \(counts.fmafCalls) calls to fmaf")
    // The GEMM micro-kernel alone has 6 (zmm) or 12 (ymm) FMAs per step.
    #expect(counts.vectorFMA >= 6)
    #expect(counts.fmafCalls == 0)
    #endif
}

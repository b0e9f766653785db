import Kernels
import Testing

@Test func adamWUpdateEqualsTheScalarFormulaOnAnyNumberOfThreads() {
    // Odd counts (a scalar tail after the 8-lane vectors); the last is split across threads.
    let step = AdamWStep(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, shrink: 1 - 1e-3 * 0.01,
                         stepSize: 1e-3 / 0.1, invCorrection2: 1 / 0.001)
    for (index, count) in [1, 7, 17, 65, 100_003].enumerated() {
        let seed = UInt64(10 * index)
        let p = randomArray(count, seed: seed), g = randomArray(count, seed: seed + 1, scale: 3)
        let m = randomArray(count, seed: seed + 2, scale: 0.1)
        let v = randomArray(count, seed: seed + 3).map { $0 * $0 }
        var pRef = p, mRef = m, vRef = v
        adamWUpdateReference(&pRef, g, &mRef, &vRef, count: count, step)
        for threads in [nil, 1, 2] as [Int?] {
            var p2 = p, m2 = m, v2 = v
            adamWUpdate(&p2, g, &m2, &v2, count: count, step, workspace: threads.map { GemmWorkspace(threads: $0) })
            #expect(p2 == pRef && m2 == mRef && v2 == vRef, "count=\(count) threads=\(String(describing: threads))")
        }
    }
}

import Testing
import Kernels

/// Task `task` multiplies its own slices of A and B into its slice of C on `lane`, and
/// records which thread ran it, how often, and the lane's thread count.
private struct SliceProducts: IndependentTasks {
    let a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    let m: Int, n: Int, k: Int
    let ran: UnsafeMutablePointer<Int>, threadOf: UnsafeMutablePointer<Int>
    let laneThreads: UnsafeMutablePointer<Int>

    func run(task: Int, thread: Int, lane: GemmWorkspace) {
        ran[task] += 1
        threadOf[task] = thread
        laneThreads[task] = lane.threads
        gemm(c + task * m * n, ldc: n, a + task * m * k, lda: k, transA: .none,
             b + task * k * n, ldb: n, transB: .none, m: m, n: n, k: k, workspace: lane)
    }
}

/// Every task runs exactly once, `thread` numbers one contiguous run of tasks, and the
/// products inside the tasks (each on its run's one-thread lane; a single task gets the whole
/// workspace) equal the reference.
@Test(arguments: [1, 2, 3])
func forEachTaskRunsEveryTaskOnceWithItsOwnLane(threads: Int) {
    let workspace = GemmWorkspace(threads: threads)
    let (m, n, k) = (13, 17, 9)
    for count in [0, 1, 2, 5, 17] {
        let a = randomArray(count * m * k, seed: 3), b = randomArray(count * k * n, seed: 4)
        var c = [Float](repeating: .nan, count: count * m * n)
        var ran = [Int](repeating: 0, count: count), threadOf = ran, laneThreads = ran
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    ran.withUnsafeMutableBufferPointer { ran in
                        threadOf.withUnsafeMutableBufferPointer { threadOf in
                            laneThreads.withUnsafeMutableBufferPointer { laneThreads in
                                workspace.forEachTask(count, SliceProducts(
                                    a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!, m: m, n: n, k: k,
                                    ran: ran.baseAddress!, threadOf: threadOf.baseAddress!,
                                    laneThreads: laneThreads.baseAddress!))
                            }
                        }
                    }
                }
            }
        }
        #expect(ran == [Int](repeating: 1, count: count))
        #expect(threadOf == threadOf.sorted(), "each thread takes one contiguous run of tasks")
        #expect(threadOf.allSatisfy { (0..<threads).contains($0) })
        #expect(laneThreads.allSatisfy { $0 == (count == 1 ? threads : 1) })
        for task in 0..<count {
            var expected = [Float](repeating: 0, count: m * n)
            gemmReference(&expected, ldc: n, Array(a[(task * m * k)...]), lda: k, transA: .none,
                          Array(b[(task * k * n)...]), ldb: n, transB: .none, m: m, n: n, k: k)
            #expect(maxScaledError(Array(c[(task * m * n)..<((task + 1) * m * n)]), expected) < 1e-5)
        }
    }
}

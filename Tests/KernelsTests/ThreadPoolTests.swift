import Foundation
import Testing
@testable import Kernels

/// Adds 1 to `counts[part]` and records the calling thread, so a test can check that every
/// part ran exactly once and on which threads. Each part first does some arithmetic (about
/// 10 us), long enough for a worker to claim parts while the caller runs its own.
private struct CountParts: ParallelJob {
    let counts: UnsafeMutablePointer<Int>
    let threads: UnsafeMutablePointer<pthread_t>
    let sink: UnsafeMutablePointer<UInt64>

    func run(part: Int) {
        var x = sink[part]
        for _ in 0..<20_000 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
        sink[part] = x
        counts[part] += 1
        threads[part] = pthread_self()
    }
}

@Test(arguments: [2, 3])
func parallelForRunsEveryPartExactlyOnce(threads: Int) {
    let workspace = GemmWorkspace(threads: threads)
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: threads)
    let runners = UnsafeMutablePointer<pthread_t>.allocate(capacity: threads)
    let sink = UnsafeMutablePointer<UInt64>.allocate(capacity: threads)
    sink.initialize(repeating: 1, count: threads)
    defer { counts.deallocate(); runners.deallocate(); sink.deallocate() }
    var jobsWithWorker = 0
    for parts in 1...threads {
        counts.initialize(repeating: 0, count: threads)
        let repetitions = 1000
        for repetition in 0..<repetitions {
            // Now and then a pause longer than the workers' polling, so they fall asleep and
            // the next job has to wake them.
            if repetition % 200 == 199 { usleep(2000) }
            workspace.parallelFor(threads: parts, CountParts(counts: counts, threads: runners, sink: sink))
            if (0..<parts).contains(where: { pthread_equal(runners[$0], pthread_self()) == 0 }) {
                jobsWithWorker += 1
            }
        }
        for part in 0..<threads {
            #expect(counts[part] == (part < parts ? repetitions : 0), "parts \(parts), part \(part)")
        }
    }
    // Which thread runs a part is up to timing (the caller takes every part not yet claimed),
    // so this is reported, not asserted.
    print("thread pool, \(threads) threads: a worker ran a part of \(jobsWithWorker) of \(1000 * (threads - 1)) multi-part jobs")
}

@Test func workspacesStopTheirWorkersWhenReleased() {
    // Each workspace starts a worker and joins it in deinit; a leak or a hang would show here.
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    let runners = UnsafeMutablePointer<pthread_t>.allocate(capacity: 2)
    let sink = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
    sink.initialize(repeating: 1, count: 2)
    defer { counts.deallocate(); runners.deallocate(); sink.deallocate() }
    counts.initialize(repeating: 0, count: 2)
    for _ in 0..<50 {
        let workspace = GemmWorkspace(threads: 2)
        workspace.parallelFor(threads: 2, CountParts(counts: counts, threads: runners, sink: sink))
    }
    #expect(counts[0] == 50 && counts[1] == 50)
}

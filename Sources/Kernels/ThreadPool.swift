#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// A fixed set of worker threads that, together with the caller, run the parts of one job at
/// a time.
///
/// Why not `DispatchQueue.concurrentPerform`: it allocates on every call (continuations and
/// closure boxes), and on 2 cores the caller often ran both halves itself before Dispatch
/// had woken a worker, so a 25-MFLOP product took as long on 2 threads as on 1.
///
/// Handing over a job allocates nothing: the caller stores a pointer to its job (a struct on
/// its stack) and the job's type, then publishes a new generation in `claims`. (A closure
/// cannot be handed over like this: `withoutActuallyEscaping` and storing the closure both
/// allocate.) Every thread, the caller included, claims parts until none is left, and the
/// caller returns once `unfinished` is zero, so the job outlives every use of it. Claiming
/// rather than assigning part t to worker t matters on a shared machine: when a worker is
/// descheduled, the caller runs its part instead of waiting a whole time slice for it. Which
/// thread runs a part does not change its result.
///
/// Waiting threads poll for `spinNanoseconds` (long enough to bridge the serial work between
/// two products of an LSTM time step), yielding the core after the first few microseconds in
/// case a thread of ours or another process is waiting for it, then sleep on a condition
/// variable, so an idle pool costs no CPU.
///
/// One job at a time: the owner (a `GemmWorkspace`) is used by one call at a time.
@available(macOS 15.0, *)
final class WorkerPool: @unchecked Sendable {
    /// Threads besides the caller.
    let workers: Int
    /// generation << 8 | next unclaimed part. A claim is a compare-and-swap that keeps the
    /// generation, so a late worker cannot claim a part of a newer job by mistake.
    private let claims = Atomic<Int>(0)
    private let parts = Atomic<Int>(0)       // parts of the current job (read by late workers)
    private let unfinished = Atomic<Int>(0)  // parts of the current job not yet returned
    private let sleepers = Atomic<Int>(0)    // workers asleep on `wake` (changed under `lock`)
    private let callerAsleep = Atomic<Bool>(false)  // the caller is asleep on `done`
    private let stopping = Atomic<Bool>(false)
    private let busy = Atomic<Bool>(false)  // a job is running: catches nested or concurrent use
    // Raw memory, not stored properties: pthread objects must not move, and plain pointer
    // accesses skip Swift's dynamic exclusivity bookkeeping.
    private let job: UnsafeMutablePointer<(UnsafeRawPointer, any ParallelJob.Type)?>
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    private var handles: [pthread_t] = []

    /// About the serial gap between two parallel products in a training step, with margin.
    static let spinNanoseconds: UInt64 = 200_000
    /// Polling without yielding the core for this long first (a wake-up through the kernel
    /// costs several microseconds).
    static let busyNanoseconds: UInt64 = 10_000

    init(workers: Int) {
        self.workers = workers
        job = .allocate(capacity: 1)
        job.initialize(to: nil)
        lock = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        for _ in 0..<workers { handles.append(startWorker()) }
    }

    /// Starts a thread running `work()`; it holds a strong reference until it exits (`stop`
    /// joins it).
    private func startWorker() -> pthread_t {
        let context = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Darwin)
        var handle: pthread_t?
        let status = pthread_create(&handle, nil, { raw in
            Unmanaged<WorkerPool>.fromOpaque(raw).takeRetainedValue().work()
            return nil
        }, context)
        #else
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { raw in
            Unmanaged<WorkerPool>.fromOpaque(raw!).takeRetainedValue().work()
            return nil
        }, context)
        #endif
        guard status == 0 else { fatalError("WorkerPool: pthread_create failed (\(status))") }
        #if canImport(Darwin)
        return handle!
        #else
        return handle
        #endif
    }

    /// Ends and joins the workers. The owner calls it once, before dropping the pool.
    func stop() {
        pthread_mutex_lock(lock)
        stopping.store(true, ordering: .sequentiallyConsistent)
        claims.add(1 << 8, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
        for handle in handles { pthread_join(handle, nil) }
        handles = []
    }

    deinit {
        pthread_mutex_destroy(lock)
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        job.deallocate()
        lock.deallocate(); wake.deallocate(); done.deallocate()
    }

    /// Runs `job.run(part: t)` for `t` in `0..<parts` (at most 255) on the workers and the
    /// calling thread, and returns when every part has returned.
    func run<Job: ParallelJob>(parts: Int, _ job: Job) {
        guard parts < 256 else { fatalError("WorkerPool.run: \(parts) parts, at most 255") }
        guard !busy.exchange(true, ordering: .acquiring) else {
            fatalError("WorkerPool.run: called while a job is running (a workspace used by two calls at once, or from inside a job)")
        }
        defer { busy.store(false, ordering: .releasing) }
        withUnsafePointer(to: job) { pointer in
            self.job.pointee = (UnsafeRawPointer(pointer), Job.self)
            self.parts.store(parts, ordering: .relaxed)
            unfinished.store(parts, ordering: .relaxed)
            let generation = (claims.load(ordering: .relaxed) >> 8) + 1
            // Sequentially consistent, like the sleeper's increment-then-check: either the
            // worker sees the new generation or this sees it asleep and wakes it.
            claims.store(generation << 8, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(lock)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(lock)
            }
            runParts(generation: generation)
            waitForParts()
            self.job.pointee = nil
        }
    }

    /// Claims and runs parts of job `generation` until none is left.
    private func runParts(generation: Int) {
        var current = claims.load(ordering: .acquiring)
        while current >> 8 == generation && current & 255 < parts.load(ordering: .relaxed) {
            let (won, seen) = claims.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            guard won else {
                current = seen
                continue
            }
            let (pointer, type) = job.pointee!
            runPart(type, pointer, current & 255)
            if unfinished.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
                && callerAsleep.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(lock)
                pthread_cond_signal(done)
                pthread_mutex_unlock(lock)
            }
            current = claims.load(ordering: .acquiring)
        }
    }

    private func waitForParts() {
        if spin(until: { unfinished.load(ordering: .acquiring) == 0 }) { return }
        pthread_mutex_lock(lock)
        callerAsleep.store(true, ordering: .sequentiallyConsistent)
        while unfinished.load(ordering: .sequentiallyConsistent) != 0 {
            pthread_cond_wait(done, lock)
        }
        callerAsleep.store(false, ordering: .relaxed)
        pthread_mutex_unlock(lock)
    }

    /// A worker's loop: wait for a new generation, help with its parts, repeat.
    private func work() {
        var seen = 0
        while true {
            if !spin(until: { claims.load(ordering: .acquiring) >> 8 != seen }) {
                pthread_mutex_lock(lock)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while claims.load(ordering: .sequentiallyConsistent) >> 8 == seen {
                    pthread_cond_wait(wake, lock)
                }
                sleepers.subtract(1, ordering: .relaxed)
                pthread_mutex_unlock(lock)
            }
            seen = claims.load(ordering: .acquiring) >> 8
            if stopping.load(ordering: .relaxed) { return }
            runParts(generation: seen)
        }
    }

    /// Polls `ready` for up to `spinNanoseconds`; returns whether it became true.
    @inline(__always)
    private func spin(until ready: () -> Bool) -> Bool {
        let start = monotonicNanoseconds()
        while true {
            // The clock (a vDSO call) is read once per 64 polls.
            for _ in 0..<64 {
                if ready() { return true }
            }
            let elapsed = monotonicNanoseconds() - start
            if elapsed > WorkerPool.spinNanoseconds { return false }
            if elapsed > WorkerPool.busyNanoseconds { sched_yield() }
        }
    }
}

@inline(__always)
private func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Work split into parts that `GemmWorkspace.parallelFor` runs on different threads.
protocol ParallelJob {
    func run(part: Int)
}

/// Runs one part of the job at `pointer`, whose type is known here only as an existential.
private func runPart<Job: ParallelJob>(_ type: Job.Type, _ pointer: UnsafeRawPointer, _ part: Int) {
    pointer.assumingMemoryBound(to: Job.self).pointee.run(part: part)
}

extension GemmWorkspace {
    /// Runs `job.run(part: t)` for `t` in `0..<threads` (at most `self.threads`) on the
    /// workspace's threads, and returns when all are done. Allocates nothing.
    func parallelFor<Job: ParallelJob>(threads: Int, _ job: Job) {
        if threads <= 1 {
            job.run(part: 0)
        } else if #available(macOS 15.0, *), let pool {
            unsafeDowncast(pool, to: WorkerPool.self).run(parts: threads, job)
        } else {
            // Before macOS 15 (no `Atomic`): Dispatch, which allocates per call.
            let shared = UncheckedSendable(value: job.run(part:))
            DispatchQueue.concurrentPerform(iterations: threads) { shared.value($0) }
        }
    }
}

/// Runs `job` as `parts` parts: on the workspace's threads, or all on the calling thread when
/// there is no workspace (then `parts` must be 1 or the job must cover everything in part 0).
func runParts<Job: ParallelJob>(_ job: Job, parts: Int, workspace: GemmWorkspace?) {
    if let workspace {
        workspace.parallelFor(threads: parts, job)
    } else {
        for part in 0..<parts { job.run(part: part) }
    }
}

/// Parts for elementwise work on `count` floats: one per thread of the workspace (1 without
/// one, or below `threshold` floats, where a wake-up would cost more than it saves), at most
/// one per 64-byte line.
func lineParts(count: Int, threshold: Int, workspace: GemmWorkspace?) -> Int {
    count < threshold ? 1 : max(1, min(workspace?.threads ?? 1, (count + 15) / 16))
}

/// Part `part` of `count` floats split into `parts` runs of whole 64-byte lines (16 floats),
/// so that no two parts write the same cache line.
func lineShare(count: Int, parts: Int, part: Int) -> Range<Int> {
    let lines = evenSplit(units: (count + 15) / 16, parts: parts, part: part)
    return min(count, lines.lowerBound * 16)..<min(count, lines.upperBound * 16)
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

/// Splits `units` work units into `parts` contiguous ranges whose sizes differ by at most one,
/// and returns range `part`. Used to give every thread an equal share of micro-panels.
func evenSplit(units: Int, parts: Int, part: Int) -> Range<Int> {
    let base = units / parts
    let extra = units % parts
    let start = part * base + min(part, extra)
    return start..<(start + base + (part < extra ? 1 : 0))
}

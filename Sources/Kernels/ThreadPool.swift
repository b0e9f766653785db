#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// A fixed set of worker threads that run one body at a time, with the caller as worker 0.
///
/// Why not `DispatchQueue.concurrentPerform`: it allocates on every call (continuations and
/// closure boxes), and on 2 cores the caller often ran both halves itself before Dispatch
/// had woken a worker, so a 25-MFLOP product took as long on 2 threads as on 1.
///
/// Handing over a job allocates nothing: the caller publishes a pointer to its job (a struct
/// on its stack) with the job's type and bumps `generation`; it waits until `pending` drops
/// to zero, so the job outlives every use of it. (A closure cannot be handed over like this:
/// `withoutActuallyEscaping` and storing the closure both allocate.) Idle workers spin on `generation` for `spinNanoseconds`, long enough to
/// bridge the serial work between two products of an LSTM time step, then sleep on a
/// condition variable so an idle pool costs no CPU. The caller waits the same way.
///
/// One job at a time: the owner (a `GemmWorkspace`) is used by one call at a time.
@available(macOS 15.0, *)
final class WorkerPool: @unchecked Sendable {
    /// Threads besides the caller.
    let workers: Int
    private let generation = Atomic<Int>(0)  // bumped once per job; workers run each value once
    private let pending = Atomic<Int>(0)     // workers that have not finished the current job
    private let sleepers = Atomic<Int>(0)    // workers asleep on `wake` (changed under `lock`)
    private let callerAsleep = Atomic<Bool>(false)  // the caller is asleep on `done`
    private let stopping = Atomic<Bool>(false)
    // Raw memory, not stored properties: pthread objects must not move, and plain pointer
    // accesses skip Swift's dynamic exclusivity bookkeeping.
    private let job: UnsafeMutablePointer<(UnsafeRawPointer, any ParallelJob.Type)?>
    private let jobThreads: UnsafeMutablePointer<Int>          // how many parts it has
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    private var handles: [pthread_t] = []

    /// About the serial gap between two parallel products in a training step, with margin.
    static let spinNanoseconds: UInt64 = 200_000

    init(workers: Int) {
        self.workers = workers
        job = .allocate(capacity: 1)
        job.initialize(to: nil)
        jobThreads = .allocate(capacity: 1)
        jobThreads.initialize(to: 0)
        lock = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        for index in stride(from: 1, through: workers, by: 1) {
            // The thread holds a strong reference until it exits (`stop` joins it).
            let context = Unmanaged.passRetained(WorkerStart(pool: self, index: index)).toOpaque()
            var handle = pthread_t()
            let status = pthread_create(&handle, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.work(index: start.index)
                return nil
            }, context)
            guard status == 0 else { fatalError("WorkerPool: pthread_create failed (\(status))") }
            handles.append(handle)
        }
    }

    /// Ends and joins the workers. The owner calls it once, before dropping the pool.
    func stop() {
        pthread_mutex_lock(lock)
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
        for handle in handles { pthread_join(handle, nil) }
        handles = []
    }

    deinit {
        pthread_mutex_destroy(lock)
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        job.deallocate(); jobThreads.deallocate()
        lock.deallocate(); wake.deallocate(); done.deallocate()
    }

    /// Runs `job.run(part: t)` for `t` in `0..<threads` (at most `workers + 1`), part 0 on
    /// the calling thread, and returns when every part has returned.
    func run<Job: ParallelJob>(threads: Int, _ job: Job) {
        guard threads <= workers + 1 else {
            fatalError("WorkerPool.run: \(threads) parts for \(workers + 1) threads")
        }
        withUnsafePointer(to: job) { pointer in
            self.job.pointee = (UnsafeRawPointer(pointer), Job.self)
            jobThreads.pointee = threads
            pending.store(workers, ordering: .relaxed)
            // Sequentially consistent, like the sleeper's increment-then-check: either the
            // worker sees the new generation or this sees it asleep and wakes it.
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(lock)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(lock)
            }
            job.run(part: 0)
            waitForWorkers()
            self.job.pointee = nil
        }
    }

    private func waitForWorkers() {
        if spin(until: { pending.load(ordering: .acquiring) == 0 }) { return }
        pthread_mutex_lock(lock)
        callerAsleep.store(true, ordering: .sequentiallyConsistent)
        while pending.load(ordering: .sequentiallyConsistent) != 0 {
            pthread_cond_wait(done, lock)
        }
        callerAsleep.store(false, ordering: .relaxed)
        pthread_mutex_unlock(lock)
    }

    /// The loop of worker `index` (1...workers).
    fileprivate func work(index: Int) {
        var seen = 0
        while true {
            if !spin(until: { generation.load(ordering: .acquiring) != seen }) {
                pthread_mutex_lock(lock)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen {
                    pthread_cond_wait(wake, lock)
                }
                sleepers.subtract(1, ordering: .relaxed)
                pthread_mutex_unlock(lock)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .relaxed) { return }
            if index < jobThreads.pointee, let (pointer, type) = job.pointee {
                runPart(type, pointer, index)
            }
            if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
                && callerAsleep.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(lock)
                pthread_cond_signal(done)
                pthread_mutex_unlock(lock)
            }
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
            if monotonicNanoseconds() - start > WorkerPool.spinNanoseconds { return false }
        }
    }
}

private final class WorkerStart {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
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
    /// Runs `job.run(part: t)` for `t` in `0..<threads` (at most `self.threads`), part 0 on
    /// the calling thread, and returns when all are done. Allocates nothing.
    func parallelFor<Job: ParallelJob>(threads: Int, _ job: Job) {
        if threads <= 1 {
            job.run(part: 0)
        } else if #available(macOS 15.0, *), let pool {
            unsafeDowncast(pool, to: WorkerPool.self).run(threads: threads, job)
        } else {
            // Before macOS 15 (no `Atomic`): Dispatch, which allocates per call.
            let shared = UncheckedSendable(value: job.run(part:))
            DispatchQueue.concurrentPerform(iterations: threads) { shared.value($0) }
        }
    }
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

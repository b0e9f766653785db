import Dispatch
import Synchronization

/// Runs `body(i)` for `i` in `0..<iterations` on the available cores and returns when
/// all are done. The iterations may write to disjoint parts of shared buffers: that is
/// the caller's contract, which the type system cannot check for raw pointers, so the
/// closure crosses into Dispatch through an unchecked box here and nowhere else.
func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    if iterations == 1 { body(0); return }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
    }
}

/// Runs `body(chunk, thread)` for every chunk in `0..<chunks` on `threads` threads, each
/// claiming the next unclaimed chunk until none is left; `thread` (in `0..<threads`) names the
/// claiming thread, for per-thread state. With one fixed share per thread, a worker that woke
/// late left its whole share to the caller, which then ran both (2-thread runs on one core).
func forEachChunk(_ chunks: Int, threads: Int, _ body: (_ chunk: Int, _ thread: Int) -> Void) {
    let next = Atomic<Int>(0)
    parallelFor(min(threads, chunks)) { thread in
        while true {
            let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if chunk >= chunks { return }
            body(chunk, thread)
        }
    }
}

private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

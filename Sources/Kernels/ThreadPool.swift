import Dispatch

/// Runs `body(t)` for `t` in `0..<threads`, one call per worker, and returns when all are done.
///
/// Backed by `DispatchQueue.concurrentPerform`, which runs the calls on Dispatch's
/// persistent worker threads (and the calling thread), so no thread is created per call.
/// With `threads == 1` the body runs inline on the caller.
func parallelFor(threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 {
        body(0)
        return
    }
    // The body captures raw pointers into disjoint slices of the caller's buffers, which the
    // compiler cannot prove safe to share; the split functions guarantee the slices are disjoint.
    withoutActuallyEscaping(body) { escaping in
        let shared = UncheckedSendable(value: escaping)
        DispatchQueue.concurrentPerform(iterations: threads) { shared.value($0) }
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

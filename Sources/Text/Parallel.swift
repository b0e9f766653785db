import Dispatch

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

private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

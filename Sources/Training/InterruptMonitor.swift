import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT (Ctrl-C) and SIGTERM into a flag that a training loop checks between
/// steps, so it can finish the step, write a resumable checkpoint and exit, instead of
/// dying in the middle of a write. The signals are delivered through Dispatch, outside
/// any signal handler, so nothing async-signal-unsafe runs in one.
///
/// A second signal while the first is being handled ends the process at once (exit code
/// 130), for a user who does not want to wait for the checkpoint. libdispatch registers the
/// sources asynchronously: a signal within the first milliseconds after `init` may be
/// missed (it is ignored, not fatal).
public final class InterruptMonitor: @unchecked Sendable {  // `sources` is touched only in init and cancel
    private final class Counter: Sendable { let value = Atomic<Int>(0) }
    private let count = Counter()
    private let sources: [any DispatchSourceSignal]
    private let signals: [Int32]

    public init(signals: [Int32] = [SIGINT, SIGTERM]) {
        self.signals = signals
        let queue = DispatchQueue(label: "interrupt-monitor")
        var sources: [any DispatchSourceSignal] = []
        let count = self.count
        for number in signals {
            signal(number, SIG_IGN)  // the dispatch source receives it instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if count.value.add(1, ordering: .sequentiallyConsistent).newValue > 1 { exit(130) }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// Whether an interruption was requested.
    public var isRequested: Bool { count.value.load(ordering: .sequentiallyConsistent) > 0 }

    /// Stops watching and restores the default action of the signals.
    public func cancel() {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}

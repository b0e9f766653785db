import Foundation

/// A progress bar with rate and ETA on standard error, redrawn at most 10 times a second.
/// Silent unless standard error is a terminal (or `force` is set), so logs and pipes stay
/// clean.
public final class ProgressBar {
    private let total: Int
    private let label: String
    private let unit: String
    private let enabled: Bool
    private let start = Terminal.now()
    private var lastDraw = 0.0

    public init(label: String, total: Int, unit: String = "MB", force: Bool = false) {
        self.total = max(total, 1)
        self.label = label
        self.unit = unit
        enabled = force || Terminal.stderrIsTerminal
    }

    /// Reports `done` units of work (bytes for "MB"); `detail` replaces the rate (e.g.
    /// "epoch 2 loss 3.14 9.1k tok/s").
    public func update(_ done: Int, detail: String? = nil) {
        guard enabled else { return }
        let now = Terminal.now()
        guard now - lastDraw >= 0.1 || done >= total else { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let elapsed = now - start
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let scale = unit == "MB" ? 1e6 : 1
        let rate = elapsed > 0 ? Double(done) / scale / elapsed : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let middle = detail ?? String(format: "%.1f %@/s", rate, unit)
        let line = String(format: "\r%@ %@ %5.1f%% %@ ETA %@\u{1B}[K", label, bar, fraction * 100, middle, Self.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Prints a line of its own on standard error without breaking the bar (which is
    /// redrawn on the next update).
    public func note(_ line: String) {
        let clear = enabled ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((clear + line + "\n").utf8))
        lastDraw = 0
    }

    public func finish() {
        guard enabled else { return }
        update(total)
        FileHandle.standardError.write(Data("\n".utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}

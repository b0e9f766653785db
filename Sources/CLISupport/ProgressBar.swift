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

    /// Reports `done` units of work (bytes for "MB").
    public func update(_ done: Int) {
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
        let line = String(format: "\r%@ %@ %5.1f%% %.1f %@/s ETA %@", label, bar, fraction * 100, rate, unit, Self.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
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

/// Errors from kernels whose inputs carry data-dependent indices (targets, token ids).
public enum KernelError: Error, Equatable, CustomStringConvertible {
    /// `index` (an id or target at `position`) is outside `0..<limit`.
    case indexOutOfRange(what: String, position: Int, index: Int, limit: Int)
    /// A size or probability argument is invalid.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .indexOutOfRange(what, position, index, limit):
            return "\(what) \(index) at position \(position) is outside 0..<\(limit)"
        case let .invalidArgument(message):
            return message
        }
    }
}

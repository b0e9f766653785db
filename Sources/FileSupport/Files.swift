#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A failed file operation: which one, on which path, and the errno it set.
public struct FileError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) '\(path)': \(String(cString: strerror(errno)))" }
}

/// The contents of the file at `path`, read into one array sized from `fstat`.
public func readWholeFile(path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(operation: "open", path: path, errno: errno) }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw FileError(operation: "fstat", path: path, errno: errno) }
    let size = Int(status.st_size)
    var failure: FileError?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        var done = 0
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { failure = FileError(operation: "read", path: path, errno: errno); break }
            // The file shrank while we read it: what we have is not the file stat described.
            if n == 0 { failure = FileError(operation: "read (file truncated while reading)", path: path, errno: EIO); break }
            done += n
        }
        initialized = failure == nil ? size : 0
    }
    if let failure { throw failure }
    return bytes
}

/// Writes a file so that `path` holds either its old contents or all of the new ones, never a
/// mix: the chunks from `produce` go to a temporary file in the same folder (rename is atomic
/// only within one file system), which is fsynced, renamed over `path`, and the folder fsynced
/// so the rename itself survives a crash.
public func writeAtomically(path: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    let temporary = (folder == "/" ? "" : folder) + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileError(operation: "create", path: temporary, errno: errno) }
    var closed = false
    var renamed = false
    defer {
        if !closed { close(fd) }
        if !renamed { unlink(temporary) }
    }
    try produce { chunk in
        var done = 0
        while done < chunk.count {
            let n = write(fd, chunk.baseAddress! + done, chunk.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FileError(operation: "write", path: temporary, errno: errno) }
            done += n
        }
    }
    guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: temporary, errno: errno) }
    closed = true
    guard close(fd) == 0 else { throw FileError(operation: "close", path: temporary, errno: errno) }
    guard rename(temporary, path) == 0 else { throw FileError(operation: "rename to \(path)", path: temporary, errno: errno) }
    renamed = true
    let folderFD = open(folder, O_RDONLY | O_CLOEXEC)
    guard folderFD >= 0 else { throw FileError(operation: "open folder", path: folder, errno: errno) }
    defer { close(folderFD) }
    guard fsync(folderFD) == 0 else { throw FileError(operation: "fsync folder", path: folder, errno: errno) }
}

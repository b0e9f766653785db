#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A file's contents mapped read-only into memory, for readers that go through a large file
/// once (model weights): the pages come straight from the page cache, where reading them would
/// first fault in and zero as much fresh memory and then copy into it.
///
/// The mapping is private and read-only. Our writers replace files by renaming a new one over
/// them (`writeAtomically`), which leaves a mapped file intact; a file truncated in place by
/// another program while mapped would fault on access, so readers copy what they keep out
/// soon after and drop the mapping.
public final class MappedFile: @unchecked Sendable {  // immutable after init
    /// The whole file (empty for an empty file, which is not mapped).
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw FileError(operation: "fstat", path: path, errno: errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw FileError(operation: "map (not a regular file)", path: path, errno: EINVAL)
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        // MAP_POPULATE: the whole file is read anyway; one call maps every page.
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
        guard let address, address != MAP_FAILED else { throw FileError(operation: "mmap", path: path, errno: errno) }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

import FileSupport

// File access goes through FileSupport (a read-only mapping, atomic durable writes); its
// errors become this module's `SafeTensorsError.io`, so callers see one error type.

func mapFile(path: String) throws -> MappedFile {
    try mappingFileErrors { try MappedFile(path: path) }
}

func writeAtomically(path: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    try mappingFileErrors { try FileSupport.writeAtomically(path: path, produce) }
}

private func mappingFileErrors<R>(_ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as FileError {
        throw SafeTensorsError.io(operation: error.operation, path: error.path, errno: error.errno)
    }
}

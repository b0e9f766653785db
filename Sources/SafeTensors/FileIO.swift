import FileSupport

// File access goes through FileSupport (one whole-file read, atomic durable writes); its
// errors become this module's `SafeTensorsError.io`, so callers see one error type.

func readWholeFile(path: String) throws -> [UInt8] {
    try mappingFileErrors { try FileSupport.readWholeFile(path: path) }
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

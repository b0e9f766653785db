import Foundation

/// Runs a command found on PATH and returns its standard output; a non-zero exit is an
/// error naming the command, its status and `hint` (what to install, typically).
public func commandOutput(_ arguments: [String], hint: String = "") throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandError(description: "\(arguments.joined(separator: " ")) exited with status \(process.terminationStatus)"
                                        + (hint.isEmpty ? "" : "; \(hint)"))
    }
    return data
}

public struct CommandError: Error, CustomStringConvertible {
    public let description: String
}

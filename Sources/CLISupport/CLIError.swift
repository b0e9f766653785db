import ArgumentParser

/// A runtime failure of a command: printed as `Error: message`, exit code 1.
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

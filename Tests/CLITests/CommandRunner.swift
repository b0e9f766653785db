import Foundation

/// Runs the package's built executables, as a user would from a shell.
struct CommandRunner {
    struct Output {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// The folder holding the built products (the test runner sits beside them).
    static let productsFolder: URL = {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = runner.deletingLastPathComponent()
        // On Linux the runner is `<products>/<Package>PackageTests.xctest`.
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenize").path),
              folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder
    }()

    /// A tool may exit before reading all its input (refusing it, say): writing the rest then
    /// raises SIGPIPE, which would end the whole test process. Ignored, the write fails instead.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Runs `tool`; with `discardOutput` its standard output goes to /dev/null (for large
    /// outputs the test does not read).
    static func run(_ tool: String, _ arguments: [String], stdin: [UInt8] = [], discardOutput: Bool = false) throws -> Output {
        _ = ignoreBrokenPipes
        let process = Process()
        process.executableURL = productsFolder.appendingPathComponent(tool)
        process.arguments = arguments
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = discardOutput ? FileHandle.nullDevice : output
        process.standardError = error
        try process.run()
        // Write stdin and read both outputs concurrently so no pipe fills up. Each helper
        // signals when done: `Thread.isExecuting` is still false for a thread that has not
        // begun yet, and polling it lost standard error now and then.
        let finished = DispatchSemaphore(value: 0)
        let writer = Thread {
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin))
            try? input.fileHandleForWriting.close()
            finished.signal()
        }
        writer.start()
        let errData = DataBox()
        let errReader = Thread {
            errData.set(error.fileHandleForReading.readDataToEndOfFile())
            finished.signal()
        }
        errReader.start()
        let outData = discardOutput ? Data() : output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.wait()
        finished.wait()
        return Output(status: process.terminationStatus, stdout: [UInt8](outData),
                      stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Standard error as read by another thread.
    private final class DataBox: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
        func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
    }

    /// A fresh temporary folder for one test.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cli-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

import Foundation
import Testing
@testable import Text

@Suite struct LineReaderTests {
    /// Reads `bytes` through a pipe with the given options; returns the first error thrown
    /// by the reader or by the deferred per-line checks.
    func firstError(_ bytes: [UInt8], _ options: LineReader.Options) -> LineReader.InputError? {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data(bytes))
        try? pipe.fileHandleForWriting.close()
        var reader = LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, options: options)
        do {
            while let batch = try reader.nextBatch(targetBytes: 16) {
                for k in 0..<batch.count { try batch.checkLine(k) }
            }
        } catch let error as LineReader.InputError {
            return error
        } catch {
            return .readFailed("\(error)")
        }
        return nil
    }

    @Test(arguments: [false, true])
    func deferredChecksReportTheSamePlaceAsEagerOnes(keepLineBreaks: Bool) {
        let bad: [UInt8] = Array("first line\nsecond 中文\nthird ".utf8) + [0xE4, 0xB8] + Array("x\nfourth\n".utf8)
        let nul: [UInt8] = Array("ok\nalso ok\nbin".utf8) + [0] + Array("ary\n".utf8)
        for input in [bad, nul] {
            var eager = LineReader.Options()
            eager.keepLineBreaks = keepLineBreaks
            var deferred = eager
            deferred.deferChecks = true
            let a = firstError(input, eager), b = firstError(input, deferred)
            #expect(a != nil)
            #expect(a == b)
        }
        #expect(firstError(bad, .init()) == .invalidUTF8(line: 3, offset: 31))  // 11 + 14 + 6 bytes before it
    }

    @Test func crlfStaysInTheLineAndTheLastLineNeedsNoBreak() throws {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data("a\r\nb\nlast".utf8))
        try pipe.fileHandleForWriting.close()
        var reader = LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor)
        let batch = try #require(try reader.nextBatch())
        #expect((0..<batch.count).map { Array(batch.line($0)) } == [Array("a\r".utf8), Array("b".utf8), Array("last".utf8)])
        #expect(try reader.nextBatch() == nil)
    }
}

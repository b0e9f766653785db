import Foundation
import Testing
@testable import Training

@Suite struct InterruptMonitorTests {
    @Test func aSignalSetsTheFlagInsteadOfEndingTheProcess() throws {
        // SIGUSR1 stands in for Ctrl-C: the test runner must not be interrupted for real.
        let monitor = InterruptMonitor(signals: [SIGUSR1])
        defer { monitor.cancel() }
        #expect(!monitor.isRequested)
        usleep(100_000)  // libdispatch registers the source asynchronously
        kill(getpid(), SIGUSR1)
        var waited = 0
        while !monitor.isRequested && waited < 500 { usleep(2_000); waited += 1 }
        #expect(monitor.isRequested)
    }
}

@testable import AgentOSServer
import AgentOSStore
import Foundation
import Synchronization
import Testing

@Suite struct ThreadPoolExecutorTests {
    @Test func workRunsOnItsOwnThreadsAndOneBlockedThreadHoldsUpNoOther() async throws {
        let executor = ThreadPoolExecutor(threads: 2, name: "test-handler")
        defer { executor.shutdown() }
        #expect(await withTaskExecutorPreference(executor) { onExecutor(executor) }, "ran on another thread")
        #expect(onExecutor(executor) == false)

        // One task blocks its thread (as a slow SQLite call would) until the other has run.
        let released = Mutex(false)
        let semaphore = DispatchSemaphore(value: 0)
        async let blocked: Bool = withTaskExecutorPreference(executor) {
            wait(semaphore) && released.withLock { $0 }
        }
        let other = await withTaskExecutorPreference(executor) { () -> Bool in
            released.withLock { $0 = true }
            semaphore.signal()
            return true
        }
        #expect(other)
        #expect(await blocked)
    }
}

/// Whether synchronous code (as a handler's SQLite call) runs on the executor's threads.
private func onExecutor(_ executor: ThreadPoolExecutor) -> Bool { executor.runsCurrentThread }

/// Blocks the calling thread, as synchronous work in a handler does; false if nothing
/// signalled within a generous deadline (the other task never ran).
private func wait(_ semaphore: DispatchSemaphore) -> Bool { semaphore.wait(timeout: .now() + 60) == .success }

import CZeroMQ
import Foundation
import Synchronization

/// A dedicated thread, named (as far as Linux's 15 bytes allow), that owns sockets and runs their poll loop, never a Swift
/// concurrency thread; async code can await its end.
public final class OwnerThread: Sendable {
    private let completion = Completion()

    /// Starts `body` on a new thread named `name`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let completion = self.completion
        let thread = Thread {
            // Linux gives a new thread its creator's name; set ours where tools (top -H, gdb) read it.
            agentos_set_thread_name(name)
            body()
            completion.finish()
        }
        thread.name = name
        thread.start()
    }

    /// Returns once the thread's body has returned.
    public func join() async {
        await withCheckedContinuation { continuation in
            completion.whenFinished { continuation.resume() }
        }
    }

    private final class Completion: Sendable {
        private enum State {
            case running([@Sendable () -> Void])
            case finished
        }

        private let state = Mutex<State>(.running([]))

        func finish() {
            let waiters = state.withLock { state -> [@Sendable () -> Void] in
                guard case .running(let waiters) = state else { return [] }
                state = .finished
                return waiters
            }
            waiters.forEach { $0() }
        }

        func whenFinished(_ action: @escaping @Sendable () -> Void) {
            let runNow = state.withLock { state -> Bool in
                guard case .running(var waiters) = state else { return true }
                waiters.append(action)
                state = .running(waiters)
                return false
            }
            if runNow { action() }
        }
    }
}

import Foundation
import Logging

/// Sandboxes started ahead of need: each has its interpreter loaded and its runner blocked
/// reading its control pipe (no CPU while idle), ready for one job. Taking one wakes the
/// pool's thread, which starts a replacement in the background. The pool's thread starts
/// every sandbox it holds and never ends, because a sandbox dies with the thread that
/// started it.
final class WarmPool: @unchecked Sendable {
    let size: Int
    private let start: () throws -> SandboxProcess
    private let logger: Logger
    private let condition = NSCondition()
    private var ready: [SandboxProcess] = []
    private var stopped = false

    /// A pool of `size` sandboxes made by `start` (which returns one ready for a job).
    init(size: Int, logger: Logger, start: @escaping () throws -> SandboxProcess) {
        self.size = size
        self.start = start
        self.logger = logger
        let thread = Thread { [self] in fill() }
        thread.name = "agentos-warm-pool"
        thread.start()
    }

    /// A ready sandbox, or nil when none is (the caller starts one itself).
    func take() -> SandboxProcess? {
        condition.lock()
        defer { condition.unlock() }
        // Oldest first: every sandbox gets used while it is fresh enough to be alive.
        while !ready.isEmpty {
            let sandbox = ready.removeFirst()
            condition.signal()
            if !sandbox.hasExited { return sandbox }
        }
        return nil
    }

    /// Sandboxes waiting now.
    var idle: Int {
        condition.lock()
        defer { condition.unlock() }
        return ready.count
    }

    /// The lead processes of the sandboxes waiting now.
    var idleProcesses: [pid_t] {
        condition.lock()
        defer { condition.unlock() }
        return ready.map(\.pid)
    }

    /// Kills the idle sandboxes and starts no more.
    func stop() {
        condition.lock()
        stopped = true
        let idle = ready
        ready.removeAll()
        condition.signal()
        condition.unlock()
        idle.forEach { $0.kill() }
    }

    private func fill() {
        var failures = 0
        while true {
            condition.lock()
            while stopped || ready.count >= size { condition.wait() }
            condition.unlock()
            do {
                let sandbox = try start()
                failures = 0
                condition.lock()
                if stopped {
                    condition.unlock()
                    sandbox.kill()
                    continue
                }
                ready.append(sandbox)
                condition.unlock()
            } catch {
                condition.lock()
                let stopping = stopped
                condition.unlock()
                // A start cut short by stop() (its directories removed) is no failure.
                if stopping { continue }
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.error("cannot start a warm sandbox; jobs start their own", metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
                // Back off (up to 30 s) rather than spin on a broken set-up.
                Thread.sleep(forTimeInterval: min(30, 0.5 * Double(failures)))
            }
        }
    }
}

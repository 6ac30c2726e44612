import Foundation

/// Threads of their own as a task executor (SE-0417), for work that blocks: what a task on
/// them does synchronously — a store call, bcrypt, encoding a large page — blocks one of these
/// threads and never a thread of Swift's cooperative pool, which the rest of the process
/// (hello checks, timers, the gateway-facing loop's children) shares. Tasks still suspend as
/// usual (long polls), freeing their thread meanwhile. The server handles API requests on one;
/// the PostgreSQL store runs its calls on another, which its callers wait for.
public final class ThreadPoolExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    /// Jobs waiting for a thread; guarded by `condition`.
    private var queue: [UnownedJob] = []
    private var head = 0
    private var stopping = false
    /// The executor's threads, for `runsCurrentThread`; guarded by `condition`.
    private var threads: [pthread_t] = []

    /// `threads` threads, started now, that run until `shutdown()`.
    public init(threads: Int, name: String = "agentos-api-handler") {
        for index in 0..<max(1, threads) {
            let thread = Thread { [self] in work() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads end once the queue is empty.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether the calling code runs on one of the executor's threads.
    public var runsCurrentThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        return threads.contains { pthread_equal($0, pthread_self()) != 0 }
    }

    private func work() {
        let executor = asUnownedTaskExecutor()
        condition.lock()
        threads.append(pthread_self())
        condition.unlock()
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            guard head < queue.count else {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            // Compact now and then instead of removing from the front each time.
            if head >= 1024 && head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }
}

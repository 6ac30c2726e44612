import ServiceLifecycle
import Synchronization

/// What a socket's owner thread does: the sockets it polls, what it does when one of them is
/// readable, when an event arrives and when time passes. Every method is called on the one
/// owner thread of its `SocketLoop`, never concurrently, so a driver keeps its state in plain
/// stored properties.
///
/// Failures of one message or one peer are the driver's to catch and log; a method throws
/// only when the loop cannot go on, which ends the loop's service with that error.
public protocol SocketLoopDriver: AnyObject {
    /// What other threads and tasks post to the loop.
    associatedtype Event: Sendable

    /// The sockets to poll, asked before every poll (a driver may replace one, on reconnect).
    var sockets: [Socket] { get }
    /// The longest the next poll may wait, in milliseconds; -1 waits for a socket or an event.
    var pollTimeoutMS: Int { get }

    /// Called once, on the owner thread, before the first poll.
    func started(_ loop: SocketLoopHandle<Event>) throws -> SocketLoopStep
    /// The socket at `index` in `sockets` has messages waiting.
    func readable(_ index: Int) throws -> SocketLoopStep
    /// An event posted to the loop, in posting order.
    func handle(_ event: Event) throws -> SocketLoopStep
    /// Called after every poll, whatever woke it: timers are checked here.
    func afterPoll() throws -> SocketLoopStep
    /// Graceful shutdown began: `.stop` now, or `.continue` to drain and stop later.
    func shutdownRequested() throws -> SocketLoopStep
    /// The loop has ended, for whatever reason: close the sockets, release anyone waiting.
    func stopped()
}

extension SocketLoopDriver {
    public func started(_ loop: SocketLoopHandle<Event>) throws -> SocketLoopStep { .continue }
    public func afterPoll() throws -> SocketLoopStep { .continue }
    public func shutdownRequested() throws -> SocketLoopStep { .stop }
}

/// Whether a socket loop goes on after a driver call.
public enum SocketLoopStep: Sendable {
    /// Keep polling.
    case `continue`
    /// End the loop (an expected end only after a shutdown request).
    case stop
}

/// Why a socket loop's service ended with an error.
public enum SocketLoopError: Error, CustomStringConvertible, Sendable {
    /// The driver stopped the loop although no shutdown was asked for.
    case endedUnexpectedly(loop: String)

    public var description: String {
        switch self {
        case .endedUnexpectedly(let loop): "the \(loop) loop ended unexpectedly"
        }
    }
}

/// What a driver gets to reach its loop from the owner thread: posting events to itself and
/// starting child tasks of the loop's service.
public struct SocketLoopHandle<Event: Sendable>: Sendable {
    fileprivate let mailbox: Mailbox<SocketLoopMessage<Event>>
    fileprivate let children: AsyncStream<SocketLoopChild>.Continuation

    /// Posts an event to the loop (any thread).
    public func post(_ event: Event) { mailbox.post(.event(event)) }

    /// Runs `operation` as a child task of the loop's service and posts the event it returns,
    /// if any; on `executor` when given (it starts there, without a hop through the
    /// cooperative pool). When the loop ends, the children still running are cancelled, and
    /// the service returns once they all have finished.
    public func spawn(on executor: (any TaskExecutor)? = nil, _ operation: @escaping @Sendable () async -> Event?) {
        let mailbox = self.mailbox
        children.yield(SocketLoopChild(executor: executor) {
            if let event = await operation() { mailbox.post(.event(event)) }
        })
    }
}

/// A child task a driver asked for, and where it should run.
fileprivate struct SocketLoopChild: Sendable {
    let executor: (any TaskExecutor)?
    let operation: @Sendable () async -> Void
}

fileprivate enum SocketLoopMessage<Event: Sendable>: Sendable {
    case event(Event)
    case shutdown
    case cancel
}

/// One owner thread running a `SocketLoopDriver`'s poll loop, as a `Service`: the thread starts
/// in `run()`, graceful shutdown asks the driver to drain, cancellation stops it at once, and
/// `run()` returns when the loop and every child task it spawned have ended. A loop that ends
/// without being asked to (its driver stopped, or threw) makes `run()` throw, so the service
/// group, and with it the process, ends instead of staying up deaf.
public final class SocketLoop<Driver: SocketLoopDriver>: Service, Sendable {
    /// The thread's name (also used in errors).
    public let name: String
    private let mailbox: Mailbox<SocketLoopMessage<Driver.Event>>
    private let driver: DriverBox
    private let started = Atomic<Bool>(false)

    /// A loop for `driver`, whose sockets only the owner thread touches once `run()` starts.
    public init(name: String, driver: Driver) throws {
        self.name = name
        self.mailbox = try Mailbox()
        self.driver = DriverBox(driver)
    }

    /// Posts an event to the loop (any thread).
    public func post(_ event: Driver.Event) { mailbox.post(.event(event)) }

    public func run() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { throw SocketLoopError.endedUnexpectedly(loop: name) }
        let (children, spawner) = AsyncStream<SocketLoopChild>.makeStream()
        let handle = SocketLoopHandle(mailbox: mailbox, children: spawner)
        let outcome = Mutex<Result<Bool, any Error>>(.success(false))
        let driver = self.driver
        let mailbox = self.mailbox
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    let thread = OwnerThread(name: name) {
                        let result = Result { try Self.loop(driver.value, mailbox: mailbox, handle: handle) }
                        outcome.withLock { $0 = result }
                        spawner.finish()
                    }
                    for await child in children {
                        group.addTask(executorPreference: child.executor) { await child.operation() }
                    }
                    await thread.join()
                    // Nobody reads what they would post any more: they end now.
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                mailbox.post(.shutdown)
            }
        } onCancel: {
            mailbox.post(.cancel)
        }
        let asked = try outcome.withLock { $0 }.get()
        guard asked || Task.isCancelled else { throw SocketLoopError.endedUnexpectedly(loop: name) }
    }

    /// The poll loop on the owner thread; returns whether its end was asked for.
    private static func loop(
        _ driver: Driver, mailbox: Mailbox<SocketLoopMessage<Driver.Event>>, handle: SocketLoopHandle<Driver.Event>
    ) throws -> Bool {
        defer { driver.stopped() }
        var shutdownAsked = false
        guard try driver.started(handle) == .continue else { return false }
        while true {
            var poller = Poller()
            let sockets = driver.sockets
            for socket in sockets { poller.add(socket) }
            let mailboxIndex = poller.add(fd: mailbox.fileDescriptor)
            let ready = try poller.poll(timeoutMs: driver.pollTimeoutMS)
            if ready.contains(mailboxIndex) {
                for message in mailbox.takeAll() {
                    let step: SocketLoopStep
                    switch message {
                    case .event(let event):
                        step = try driver.handle(event)
                    case .shutdown:
                        guard !shutdownAsked else { continue }
                        shutdownAsked = true
                        step = try driver.shutdownRequested()
                    case .cancel:
                        return true
                    }
                    if step == .stop { return shutdownAsked }
                }
            }
            for index in sockets.indices where ready.contains(index) {
                if try driver.readable(index) == .stop { return shutdownAsked }
            }
            if try driver.afterPoll() == .stop { return shutdownAsked }
        }
    }

    /// Hands the driver to the owner thread, the only one that touches it once `run()` starts.
    private final class DriverBox: @unchecked Sendable {
        let value: Driver
        init(_ value: Driver) { self.value = value }
    }
}

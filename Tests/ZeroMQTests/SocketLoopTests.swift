import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import ZeroMQ

/// A driver over one PULL socket that records what it saw; shared state is locked because
/// the test reads it from another thread.
private final class RecordingDriver: SocketLoopDriver {
    enum Event: Sendable {
        case note(String)
        case stopNow
        case fail
        case spawnEcho(String)
    }

    struct Failure: Error {}

    let pull: Socket
    let seen = Mutex<[String]>([])
    let threadNames = Mutex<Set<String>>([])
    let stoppedCalls = Atomic<Int>(0)
    /// Drain: on shutdown, keep going until a message "last" arrives.
    let drainUntilLast: Bool
    private var draining = false
    private var handle: SocketLoopHandle<Event>?

    init(pull: Socket, drainUntilLast: Bool = false) {
        self.pull = pull
        self.drainUntilLast = drainUntilLast
    }

    var sockets: [Socket] { [pull] }
    var pollTimeoutMS: Int { -1 }

    private func record(_ text: String) {
        seen.withLock { $0.append(text) }
        // The kernel's name of this thread, as top -H shows it.
        let threadName = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        threadNames.withLock { _ = $0.insert(threadName) }
    }

    func started(_ loop: SocketLoopHandle<Event>) throws -> SocketLoopStep {
        handle = loop
        record("started")
        return .continue
    }

    func readable(_ index: Int) throws -> SocketLoopStep {
        while let frames = try pull.receive(dontWait: true) {
            let text = String(decoding: frames[0], as: UTF8.self)
            record("socket:\(text)")
            if draining, text == "last" { return .stop }
        }
        return .continue
    }

    func handle(_ event: Event) throws -> SocketLoopStep {
        switch event {
        case .note(let text):
            record("event:\(text)")
            return .continue
        case .stopNow:
            return .stop
        case .fail:
            throw Failure()
        case .spawnEcho(let text):
            handle?.spawn {
                try? await Task.sleep(for: .milliseconds(20))
                return .note("echo-\(text)")
            }
            return .continue
        }
    }

    func shutdownRequested() throws -> SocketLoopStep {
        record("shutdown")
        guard drainUntilLast else { return .stop }
        draining = true
        return .continue
    }

    func stopped() {
        stoppedCalls.add(1, ordering: .relaxed)
        pull.close()
    }
}

@Suite struct SocketLoopTests {
    private func makeDriver(_ endpoint: String, drain: Bool = false) throws -> (RecordingDriver, Socket) {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        try pull.bind(endpoint)
        let push = try context.lingerlessSocket(.push)
        try push.connect(endpoint)
        return (RecordingDriver(pull: pull, drainUntilLast: drain), push)
    }

    /// Waits (generously) until `condition` holds.
    private func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func handlesEventsInOrderOnItsOwnThreadAndEndsOnGracefulShutdown() async throws {
        let (driver, push) = try makeDriver("inproc://loop-order")
        let loop = try SocketLoop(name: "test-loop", driver: driver)
        let group = ServiceGroup(services: [loop], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        for index in 0..<50 { loop.post(.note("\(index)")) }
        try push.send(["hello".frame])
        try await eventually { driver.seen.withLock { $0.contains("socket:hello") && $0.contains("event:49") } }
        await group.triggerGracefulShutdown()
        try await running.value
        let events = driver.seen.withLock { $0 }.filter { $0.hasPrefix("event:") }
        #expect(events == (0..<50).map { "event:\($0)" })
        #expect(driver.seen.withLock { $0.first } == "started")
        #expect(driver.threadNames.withLock { $0 } == ["test-loop"])
        #expect(driver.stoppedCalls.load(ordering: .relaxed) == 1)
        push.close()
    }

    @Test func gracefulShutdownLetsTheDriverDrain() async throws {
        let (driver, push) = try makeDriver("inproc://loop-drain", drain: true)
        let loop = try SocketLoop(name: "drain-loop", driver: driver)
        let group = ServiceGroup(services: [loop], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        try await eventually { driver.seen.withLock { $0.contains("started") } }
        await group.triggerGracefulShutdown()
        try await eventually { driver.seen.withLock { $0.contains("shutdown") } }
        try push.send(["more".frame])
        try await eventually { driver.seen.withLock { $0.contains("socket:more") } }
        #expect(driver.stoppedCalls.load(ordering: .relaxed) == 0)
        try push.send(["last".frame])
        try await running.value
        #expect(driver.stoppedCalls.load(ordering: .relaxed) == 1)
        push.close()
    }

    @Test func aLoopThatStopsByItselfFailsItsService() async throws {
        let (driver, push) = try makeDriver("inproc://loop-self-stop")
        let loop = try SocketLoop(name: "quitter", driver: driver)
        loop.post(.stopNow)
        await #expect(throws: SocketLoopError.self) { try await loop.run() }
        #expect(driver.stoppedCalls.load(ordering: .relaxed) == 1)
        push.close()
    }

    @Test func aDriverErrorEndsTheServiceWithThatError() async throws {
        let (driver, push) = try makeDriver("inproc://loop-fail")
        let loop = try SocketLoop(name: "failing", driver: driver)
        loop.post(.fail)
        await #expect(throws: RecordingDriver.Failure.self) { try await loop.run() }
        #expect(driver.stoppedCalls.load(ordering: .relaxed) == 1)
        push.close()
    }

    @Test func childTasksPostTheirEventsBackAndAreAwaited() async throws {
        let (driver, push) = try makeDriver("inproc://loop-children")
        let loop = try SocketLoop(name: "parent", driver: driver)
        let group = ServiceGroup(services: [loop], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        loop.post(.spawnEcho("a"))
        loop.post(.spawnEcho("b"))
        try await eventually { driver.seen.withLock { $0.contains("event:echo-a") && $0.contains("event:echo-b") } }
        await group.triggerGracefulShutdown()
        try await running.value
        push.close()
    }

    @Test func cancellationStopsTheLoopAtOnce() async throws {
        let (driver, push) = try makeDriver("inproc://loop-cancel", drain: true)
        let loop = try SocketLoop(name: "cancelled", driver: driver)
        let running = Task { try await loop.run() }
        try await eventually { driver.seen.withLock { $0.contains("started") } }
        running.cancel()
        try await running.value
        #expect(driver.stoppedCalls.load(ordering: .relaxed) == 1)
        push.close()
    }
}

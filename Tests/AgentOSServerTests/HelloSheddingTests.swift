@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import Synchronization
import Testing
import ZeroMQ

/// Overload sheds new hellos with a retry-later REJECT instead of letting checks pile up.
@Suite struct HelloSheddingTests {
    /// Holds hello checks until opened.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func wait() async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }

        func open() {
            let waiting = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            waiting.forEach { $0.resume() }
        }
    }

    /// The first message on `socket`, read on a thread of its own (never on the cooperative
    /// pool), or nil if none came within `seconds`.
    static func first(of sockets: [Socket], within seconds: Double) async -> (Int, BusMessage)? {
        await withCheckedContinuation { continuation in
            Thread {
                let deadline = Date().addingTimeInterval(seconds)
                while Date() < deadline {
                    for (index, socket) in sockets.enumerated() {
                        if let frames = try? socket.receive(dontWait: true), let message = try? BusMessage(frames: frames[...]) {
                            return continuation.resume(returning: (index, message))
                        }
                    }
                    usleep(2000)
                }
                continuation.resume(returning: nil)
            }.start()
        }
    }

    @Test func hellosPastTheCheckLimitAreToldToComeBackLater() async throws {
        let store = try SQLiteStore.inMemory()
        let dispatcher = try Dispatcher(store: store, settings: Dispatcher.Settings(), logger: Logger(label: "test")) { _ in }
        let gate = Gate()
        defer { gate.open() }
        let context = try Context()
        let bus = try BusLoop(
            context: context, endpoint: "tcp://127.0.0.1:*", dispatcher: dispatcher, directory: WorkerDirectory(), tickInterval: 0.1,
            authenticate: { _ in
                await gate.wait()
                return .success(WorkerPrincipal(kind: .cloud, ownerID: nil))
            },
            maxHelloChecks: 2, files: try JobFileReader.scratch(store: store), logger: Logger(label: "test"))
        let endpoint = bus.boundEndpoint
        let loop = try SocketLoop(name: "test-bus", driver: bus)
        let running = Task { try await loop.run() }
        defer { running.cancel() }

        var sockets: [Socket] = []
        for n in 1...3 {
            let socket = try context.makeSocket(.dealer)
            try socket.setLinger(0)
            try socket.connect(endpoint)
            let hello = Hello(
                workerID: "w\(n)", name: "w\(n)", version: "test", slots: 1, labels: [], runtimes: ["python3"], kind: .cloud,
                credential: WorkerCredential(workerToken: "t"), running: [])
            _ = try socket.send(BusMessage(.hello, hello).frames)
            sockets.append(socket)
        }
        // Two checks are held at the gate; the third hello is answered at once.
        let (shedIndex, shed) = try #require(await Self.first(of: sockets, within: 60), "no answer while two checks were held")
        #expect(shed.command == .reject)
        let reject = try shed.decode(Reject.self)
        #expect(reject.code == Reject.unavailable && reject.message.hasPrefix("the server cannot check credentials right now: "))
        gate.open()
        for (index, socket) in sockets.enumerated() where index != shedIndex {
            let (_, answer) = try #require(await Self.first(of: [socket], within: 60), "worker \(index + 1) got no answer")
            #expect(answer.command == .welcome, "worker \(index + 1) was held, then welcomed")
        }
        // The shed worker's retry gets in once the checks are done.
        _ = try sockets[shedIndex].send(BusMessage(.hello, Hello(
            workerID: "w\(shedIndex + 1)", name: "w\(shedIndex + 1)", version: "test", slots: 1, labels: [], runtimes: ["python3"],
            kind: .cloud, credential: WorkerCredential(workerToken: "t"), running: [])).frames)
        let (_, retried) = try #require(await Self.first(of: [sockets[shedIndex]], within: 60))
        #expect(retried.command == .welcome)
        sockets.forEach { $0.close() }
    }

    /// The next message on `socket` that is not a server heartbeat (those come on the
    /// server's own schedule, between any two answers).
    static func answer(on socket: Socket) async -> (Int, BusMessage)? {
        while let next = await first(of: [socket], within: 60) {
            if next.1.command != .heartbeat { return next }
        }
        return nil
    }

    @Test func messagesAreSmallUntilPutTogetherFromTheirPartsOnlyForAWelcomedWorker() async throws {
        let store = try SQLiteStore.inMemory()
        let owner = try store.createUser(User(email: "o@example.com", name: "o", passwordHash: "x", role: .admin))
        let project = try store.createProject(name: "p", owner: owner.id)
        // This worker sends no heartbeats: it must not be declared dead however slow the machine.
        var settings = Dispatcher.Settings()
        settings.heartbeatInterval = 300
        let dispatcher = try Dispatcher(store: store, settings: settings, logger: Logger(label: "test")) { _ in }
        let context = try Context()
        let bus = try BusLoop(
            context: context, endpoint: "tcp://127.0.0.1:*", dispatcher: dispatcher, directory: WorkerDirectory(), tickInterval: 0.1,
            authenticate: { _ in .success(WorkerPrincipal(kind: .cloud, ownerID: nil)) }, files: try JobFileReader.scratch(store: store),
            logger: Logger(label: "test"))
        let endpoint = bus.boundEndpoint
        let loop = try SocketLoop(name: "test-bus", driver: bus)
        let running = Task { try await loop.run() }
        defer { running.cancel() }
        func dealer() throws -> Socket {
            let socket = try context.makeSocket(.dealer)
            try socket.setLinger(0)
            try socket.connect(endpoint)
            return socket
        }
        func hello() -> Hello {
            Hello(workerID: "w", name: "w", version: "test", slots: 1, labels: [], runtimes: ["python3"], kind: .cloud,
                  credential: WorkerCredential(workerToken: "t"), running: [])
        }
        // A HELLO with a full running list fits in one message.
        var full = hello()
        full.running = (0..<Bus.maxHelloRunning).map { _ in RunningJob(jobID: UUID().uuidString.lowercased(), attempt: 100) }
        let size = BusMessage(.hello, full).frames.reduce(0) { $0 + $1.count }
        #expect(size <= Bus.maxInboundMessageBytes, "a full running list fits: \(size) bytes")
        // A stranger's 16 MiB HELLO costs it only its connection (libzmq refuses the frame).
        let stranger = try dealer()
        defer { stranger.close() }
        var huge = hello()
        huge.name = String(repeating: "x", count: 16 << 20)
        _ = try stranger.send(BusMessage(.hello, huge).frames)
        // Parts before HELLO are refused as any message before HELLO is.
        let socket = try dealer()
        defer { socket.close() }
        _ = try socket.send(BusMessage(.result, JobOutcome(jobID: "j", attempt: 1, status: .succeeded, stdout: String(repeating: "y", count: 300 << 10))).parts()[0].frames)
        let (_, refused) = try #require(await Self.answer(on: socket))
        #expect(refused.command == .reject && (try? refused.decode(Reject.self).code) == Reject.notRegistered)
        _ = try socket.send(BusMessage(.hello, hello()).frames)
        let (_, welcome) = try #require(await Self.answer(on: socket))
        #expect(welcome.command == .welcome)
        // Welcomed, it gets a job and sends back a 1 MiB result in parts.
        let job = try store.submit(Job(projectID: project.id, code: "pass", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        loop.post(.jobQueued(QueuedJob(job)))
        var assigned: JobAssignment?
        while assigned == nil {
            let (_, message) = try #require(await Self.answer(on: socket))
            if message.command == .job { assigned = try message.decode(JobAssignment.self) }
        }
        let output = String(repeating: "z", count: 1 << 20)
        let result = BusMessage(.result, JobOutcome(jobID: job.id, attempt: assigned!.attempt, status: .succeeded, result: 1, stdout: output))
        let parts = result.parts()
        #expect(parts.count == 5 && parts.allSatisfy { $0.frames.reduce(0) { $0 + $1.count } <= Bus.maxInboundMessageBytes })
        // A piece out of order is dropped with what came before it; the whole, sent again, counts.
        _ = try socket.send(parts[0].frames)
        _ = try socket.send(parts[2].frames)
        for part in parts { _ = try socket.send(part.frames) }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try store.job(id: job.id)?.status != .succeeded { try await Task.sleep(for: .milliseconds(20)) }
        let done = try #require(try store.job(id: job.id))
        #expect(done.status == .succeeded && done.stdout == output)
    }
}

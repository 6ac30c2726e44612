@testable import AgentOSWorker
import AgentOSSandbox
import AgentOSWire
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import ZeroMQ

/// The worker against a scripted server: a plain ROUTER socket in the test speaking the bus
/// protocol from docs/PROTOCOL.md.
@Suite struct WorkerAgentTests {
    final class FakeServer: @unchecked Sendable {
        let socket: Socket
        let endpoint: String
        /// Whether this server has said WELCOME: a HELLO after it is the worker's hello retry,
        /// sent before a WELCOME that a loaded machine delivered late, and is skipped.
        let welcomed = Atomic(false)

        init() throws {
            socket = try Context().makeSocket(.router)
            try socket.setLinger(0)
            try socket.setReceiveTimeout(10_000)
            try socket.bind("tcp://127.0.0.1:*")
            endpoint = try socket.lastEndpoint
        }

        /// The next message other than a heartbeat (or a late hello retry), with the sender's identity, within a
        /// minute: a sandboxed job on a loaded machine can take longer than one receive
        /// timeout. The blocking receive runs on its own thread, never on the cooperative pool
        /// the worker needs.
        func next() async throws -> ([UInt8], BusMessage) {
            let deadline = Date().addingTimeInterval(60)
            let frames: [[UInt8]]? = try await withCheckedThrowingContinuation { continuation in
                Thread { [socket] in
                    do {
                        while true {
                            guard let frames = try socket.receive() else {
                                if Date() < deadline { continue }
                                return continuation.resume(returning: nil)
                            }
                            let command = try BusMessage(frames: frames[1...]).command
                            if command == .heartbeat || (command == .hello && self.welcomed.load(ordering: .acquiring)) { continue }
                            return continuation.resume(returning: frames)
                        }
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }.start()
            }
            let received = try #require(frames, "the worker sent nothing")
            return (received[0], try BusMessage(frames: received[1...]))
        }

        /// The next message, or nil when none came within the receive timeout.
        func nextIfAny() async -> ([UInt8], BusMessage)? {
            let frames: [[UInt8]]? = await withCheckedContinuation { continuation in
                Thread { [socket] in continuation.resume(returning: (try? socket.receive()) ?? nil) }.start()
            }
            guard let frames, frames.count > 1, let message = try? BusMessage(frames: frames[1...]) else { return nil }
            return (frames[0], message)
        }

        func send(_ identity: [UInt8], _ command: BusCommand, _ body: some Encodable) throws {
            if command == .welcome { welcomed.store(true, ordering: .releasing) }
            try socket.send([identity] + BusMessage(command, body).frames)
        }
    }

    @Test func helloJobStartedResultAndGoodbye() async throws {
        let server = try FakeServer()
        var configuration = WorkerConfiguration(serverEndpoint: server.endpoint, kind: .cloud, credential: WorkerCredential(workerToken: "t"))
        configuration.slots = 3
        configuration.labels = ["gpu"]
        configuration.name = "under-test"
        let agent = try WorkerAgent(configuration: configuration, engine: try testEngine(), logger: Logger(label: "test"))
        let group = ServiceGroup(services: [agent], logger: Logger(label: "test"))
        let running = Task { try await group.run() }

        let (identity, helloMessage) = try await server.next()
        #expect(helloMessage.command == .hello)
        let hello = try helloMessage.decode(Hello.self)
        #expect(hello.slots == 3 && hello.labels == ["gpu"] && hello.name == "under-test" && hello.credential.workerToken == "t")
        // This scripted server sends no heartbeats: a dead-peer timeout long enough for a
        // sandboxed job on a loaded machine.
        try server.send(identity, .welcome, Welcome(workerID: hello.workerID, heartbeatMS: 1000, deadAfterIntervals: 60, serverVersion: "t"))

        let job = JobAssignment(jobID: "j1", attempt: 4, code: "def main(a):\n    return a + 1", inputs: ["a": 41], limits: JobLimits())
        try server.send(identity, .job, job)
        let (_, started) = try await server.next()
        #expect(started.command == .started)
        #expect(try started.decode(RunningJob.self) == RunningJob(jobID: "j1", attempt: 4))
        let (_, result) = try await server.next()
        let outcome = try result.decode(JobOutcome.self)
        #expect(outcome.jobID == "j1" && outcome.attempt == 4 && outcome.status == .succeeded && outcome.result == 42)

        await group.triggerGracefulShutdown()
        let (_, drain) = try await server.next()
        #expect(drain.command == .drain)
        let (_, bye) = try await server.next()
        #expect(bye.command == .bye)
        try await running.value
    }

    @Test func aNewerAttemptReplacesTheOldRunAndARepeatIsIgnored() async throws {
        let server = try FakeServer()
        let agent = try WorkerAgent(
            configuration: WorkerConfiguration(serverEndpoint: server.endpoint, kind: .cloud, credential: WorkerCredential(workerToken: "t")),
            engine: try testEngine(), logger: Logger(label: "test"))
        let group = ServiceGroup(services: [agent], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let (identity, helloMessage) = try await server.next()
        let hello = try helloMessage.decode(Hello.self)
        // No heartbeats from this scripted server: a dead-peer timeout for a loaded machine.
        try server.send(identity, .welcome, Welcome(workerID: hello.workerID, heartbeatMS: 1000, deadAfterIntervals: 60, serverVersion: "t"))

        let stuck = JobAssignment(jobID: "j", attempt: 1, code: "import time\ntime.sleep(60)", inputs: [:], limits: JobLimits())
        try server.send(identity, .job, stuck)
        #expect(try await server.next().1.command == .started)
        try server.send(identity, .job, stuck)
        var retry = stuck
        retry.attempt = 2
        retry.code = "def main():\n    return 'second'"
        try server.send(identity, .job, retry)
        let (_, started) = try await server.next()
        #expect(try started.decode(RunningJob.self) == RunningJob(jobID: "j", attempt: 2), "the repeat was ignored, not released")
        let (_, result) = try await server.next()
        let outcome = try result.decode(JobOutcome.self)
        #expect(outcome.attempt == 2 && outcome.result == "second")
        try server.send(identity, .cancel, RunningJob(jobID: "ghost", attempt: 1))
        let (_, answer) = try await server.next()
        #expect(answer.command == .release, "a cancel for a run the worker never had frees the slot")
        await group.triggerGracefulShutdown()
        #expect(try await server.next().1.command == .drain)
        #expect(try await server.next().1.command == .bye, "no result for the replaced attempt")
        try await running.value
    }

    @Test func fatalRejectStopsTheWorkerWithTheReason() async throws {
        let server = try FakeServer()
        let agent = try WorkerAgent(
            configuration: WorkerConfiguration(serverEndpoint: server.endpoint, kind: .private, credential: WorkerCredential(accessToken: "old")),
            engine: try testEngine(), logger: Logger(label: "test"))
        let running = Task { try await agent.run() }
        // Every hello is refused, on whichever connection it comes: on a loaded machine the
        // worker may have started over on a new socket before the first refusal arrives.
        let refusing = Task {
            while !Task.isCancelled, let (identity, message) = await server.nextIfAny() {
                if message.command == .hello { try? server.send(identity, .reject, Reject(code: Reject.unauthorized, message: "expired")) }
            }
        }
        await #expect(throws: WorkerStopped.self) { try await running.value }
        refusing.cancel()
    }
}

/// A sandboxed engine with its own state directory (bubblewrap is installed by scripts/test).
func testEngine() throws -> SandboxEngine {
    guard let bwrap = SandboxConfiguration.findBubblewrap() else { throw SandboxError("bubblewrap is not installed") }
    var configuration = try SandboxConfiguration(
        isolation: .bubblewrap(bwrap), stateDirectory: NSTemporaryDirectory() + "agentos-worker-test-\(UUID().uuidString)")
    configuration.warmPoolSize = 0
    return try SandboxEngine(configuration: configuration)
}

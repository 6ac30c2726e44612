import AgentOSSandbox
import AgentOSWire
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// A worker: connects a DEALER to the server's bus, says hello, runs the jobs it is given
/// through its engine, heartbeats, reconnects with backoff when the server goes away, and
/// on shutdown drains, hands back what it could not finish, and says goodbye.
///
/// The rules are `WorkerSession`'s; this service carries them out: the socket lives on one
/// owner thread (a `SocketLoop`), and each job runs as a child task of the service that
/// reports back to it. When the service ends, whatever still runs is cancelled and awaited,
/// so no job process outlives the worker.
public final class WorkerAgent: Service, Sendable {
    private let loop: SocketLoop<WorkerConnection>
    private let failure: FailureBox

    /// A worker running jobs through `engine`.
    public init(configuration: WorkerConfiguration, engine: any JobEngine, logger: Logger) throws {
        failure = FailureBox()
        loop = try SocketLoop(
            name: "agentos-worker",
            driver: try WorkerConnection(configuration: configuration, engine: engine, logger: logger, failure: failure))
    }

    /// Runs until graceful shutdown (after draining), or throws `WorkerStopped` when the
    /// server refuses the worker for good.
    public func run() async throws {
        do {
            try await loop.run()
        } catch let error as SocketLoopError {
            throw failure.value ?? WorkerStopped(description: "\(error)")
        }
        if let stopped = failure.value { throw stopped }
    }
}

/// Why the worker's loop stopped on its own, read once the loop has ended.
private final class FailureBox: Sendable {
    private let stored = Mutex<WorkerStopped?>(nil)
    var value: WorkerStopped? { stored.withLock { $0 } }
    func set(_ failure: WorkerStopped) { stored.withLock { $0 = $0 ?? failure } }
}

/// The worker's socket-loop driver: feeds socket messages, job ends and time to the session
/// and carries out its actions. Touched only on the owner thread.
private final class WorkerConnection: SocketLoopDriver {
    enum Event: Sendable {
        case finished(JobOutcome)
        /// A job's file fetch wants a `FETCH` sent.
        case fetch(FileFetch)
        /// A run's live output wants a look: it was idle, or holds a batch's worth.
        case output(RunningJob)
    }

    private let configuration: WorkerConfiguration
    private let engine: any JobEngine
    private let logger: Logger
    private let failure: FailureBox
    private let context: Context
    private var session: WorkerSession
    private var socket: Socket?
    /// Reports the bus socket's handshakes, so a refused key or a wrong server key is a
    /// clear error rather than a silent reconnect loop.
    private var monitor: Socket?
    /// Handshakes failed in a row, for want of a matching key; reset by one that succeeds.
    private var failedHandshakes = 0
    /// Whether a handshake ever succeeded: then the keys match, and a failure is the network's.
    private var handshakeSucceeded = false
    private var loop: SocketLoopHandle<Event>?
    /// The cancellation of each job's current run, by job id.
    private var runs: [String: JobRun] = [:]
    /// Jobs waiting for `FILE`s.
    private let pendingFetches = PendingFetches()
    /// Each current run's live output, by job id.
    private var outputs: [String: SharedOutputBatcher] = [:]
    /// Whether the last `OUTPUT` could not be sent (the socket's queue is full).
    private var outputBlocked = false

    init(configuration: WorkerConfiguration, engine: any JobEngine, logger: Logger, failure: FailureBox) throws {
        self.configuration = configuration
        self.engine = engine
        self.logger = logger
        self.failure = failure
        self.context = try Context()
        self.session = WorkerSession(configuration: configuration)
    }

    var sockets: [Socket] { [socket, monitor].compactMap { $0 } }
    var pollTimeoutMS: Int {
        let tick = Int(session.tickInterval / .milliseconds(1))
        guard let due = outputs.values.compactMap(\.dueAt).min() else { return tick }
        return min(tick, max(0, Int((due - .now) / .milliseconds(1)) + 1))
    }

    func started(_ loop: SocketLoopHandle<Event>) throws -> SocketLoopStep {
        self.loop = loop
        return perform(session.start(at: .now))
    }

    func readable(_ index: Int) throws -> SocketLoopStep {
        if index == 1 { return handshakeEvents() }
        while let socket, let frames = try? socket.receive(dontWait: true) {
            if perform(session.received(frames[...], at: .now)) == .stop { return .stop }
        }
        return .continue
    }

    func handle(_ event: Event) throws -> SocketLoopStep {
        switch event {
        case .finished(let outcome):
            if runs[outcome.jobID]?.attempt == outcome.attempt {
                runs[outcome.jobID] = nil
                // The RESULT carries all of it: live output still waiting is not sent.
                outputs[outcome.jobID] = nil
            }
            return perform(session.finished(outcome, at: .now))
        case .fetch(let request):
            return perform(session.fetch(request, at: .now))
        case .output(let run):
            return sendOutput(of: run.jobID, at: .now)
        }
    }

    func afterPoll() throws -> SocketLoopStep {
        let now = ContinuousClock.now
        for (jobID, batcher) in outputs {
            if let due = batcher.dueAt, due <= now, sendOutput(of: jobID, at: now) == .stop { return .stop }
        }
        return perform(session.tick(at: now))
    }

    /// Sends the live output of a job's run that is due, until none is or the socket is full.
    private func sendOutput(of jobID: String, at now: ContinuousClock.Instant) -> SocketLoopStep {
        guard let batcher = outputs[jobID] else { return .continue }
        outputBlocked = false
        while let chunk = batcher.nextChunk(at: now) {
            let actions = session.output(chunk, at: now)
            guard !actions.isEmpty else {
                // Not welcomed now: it waits (within the batcher's bound) for a welcome.
                batcher.notSent(chunk, at: now)
                break
            }
            if perform(actions) == .stop { return .stop }
            if outputBlocked { break }
        }
        return .continue
    }

    func shutdownRequested() throws -> SocketLoopStep { perform(session.shutdown(at: .now)) }

    func stopped() {
        // The loop's end cancels and awaits the job tasks; their processes die with them.
        closeSocket()
        pendingFetches.failAll("the worker stopped")
    }

    // MARK: Actions

    private func perform(_ actions: [WorkerSession.Action]) -> SocketLoopStep {
        for action in actions {
            switch action {
            case .connect:
                guard connect() else { return .stop }
            case .send(let message):
                send(message)
            case .sendResult(let message, let run):
                if !send(message) { session.resultNotSent(run) }
            case .sendOutput(let message, let chunk):
                // Live output never waits on the socket: what it will not take now goes back
                // to its batcher, which coalesces it with what follows or gives it up.
                outputBlocked = message.body.count > Bus.maxOutputBodyBytes || !send(message)
                if outputBlocked { outputs[chunk.jobID]?.notSent(chunk, at: .now) }
            case .start(let job):
                start(job)
            case .cancel(let run):
                if let current = runs[run.jobID], current.attempt == run.attempt {
                    current.cancel()
                    outputs[run.jobID] = nil
                }
            case .log(let level, let message, let metadata):
                logger.log(level: level, "\(message)", metadata: metadata)
            case .fileArrived(let chunk):
                pendingFetches.deliver(chunk)
            case .fetchFailed(let request, let reason):
                pendingFetches.fail(request.key, reason)
            case .end(let stopped, let lingerMS):
                try? socket?.setLinger(Int32(lingerMS))
                if let stopped { failure.set(stopped) }
                return .stop
            }
        }
        return .continue
    }

    /// Closes the bus socket and its monitor, the monitor stopped first.
    private func closeSocket() {
        socket?.stopMonitoring()
        monitor?.close()
        monitor = nil
        socket?.close()
        socket = nil
    }

    private func connect() -> Bool {
        closeSocket()
        do {
            let socket = try context.makeSocket(.dealer)
            try socket.setLinger(0)
            try socket.setMaxMessageSize(Int64(Bus.maxMessageBytes))
            try socket.setReconnectInterval(100, max: 2000)
            if let curve = configuration.curve { try socket.setCurveClient(curve) }
            let monitor = try socket.monitor(events: MonitorEvent.handshakeSucceeded | MonitorEvent.handshakeFailedNoDetail
                | MonitorEvent.handshakeFailedProtocol | MonitorEvent.handshakeFailedAuth)
            try socket.connect(session.endpoint)
            self.socket = socket
            self.monitor = monitor
            return true
        } catch {
            logger.critical("cannot create the bus socket", metadata: ["error": "\(error)"])
            failure.set(WorkerStopped(description: "cannot connect to \(session.endpoint): \(error)"))
            return false
        }
    }

    /// Reads the monitor: a peer refused by the server's ZAP handler stops at once (its
    /// credential is not one the bus knows); handshakes that keep failing without a word
    /// mean the keys do not match, which retrying cannot mend either.
    private func handshakeEvents() -> SocketLoopStep {
        while let monitor, let frames = try? monitor.receive(dontWait: true) {
            guard let event = MonitorEvent(frames: frames) else { continue }
            switch event.event {
            case MonitorEvent.handshakeSucceeded:
                failedHandshakes = 0
                handshakeSucceeded = true
            case MonitorEvent.handshakeFailedAuth where event.value == 400:
                return stop(because: """
                    the server at \(session.endpoint) refused this worker's key at the handshake: \
                    its \(configuration.kind == .cloud ? "worker token" : "personal access token") is unknown, revoked or expired \
                    (a token made before the bus had CURVE must be made again)
                    """)
            case MonitorEvent.handshakeFailedAuth:
                logger.warning("the server could not check this worker's key; retrying", metadata: ["status": "\(event.value)"])
            case MonitorEvent.handshakeFailedProtocol where event.value == MonitorEvent.mechanismMismatch:
                return stop(because: mismatch)
            default:
                // Without a reason given, a failed handshake is a wrong server key only with
                // CURVE, and only if none ever succeeded; otherwise the network (a proxy, a
                // restart mid-handshake) is to blame, and the worker keeps trying.
                failedHandshakes += 1
                logger.warning("handshake with the server failed", metadata: [
                    "endpoint": "\(event.endpoint)", "curve": "\(configuration.curve != nil)", "errno": "\(event.value)",
                ])
                if configuration.curve != nil, !handshakeSucceeded, failedHandshakes >= Self.maxFailedHandshakes {
                    return stop(because: mismatch)
                }
            }
        }
        return .continue
    }

    /// What a handshake that cannot succeed means.
    private var mismatch: String {
        configuration.curve == nil
            ? "the bus at \(session.endpoint) runs CURVE: give the server's public key with --server-key (it is in <data>/server-key.pub on the server, and in GET /api/v1/cluster)"
            : "cannot complete the CURVE handshake with \(session.endpoint): the server key given (--server-key) is not this server's, or the bus does not run CURVE"
    }

    /// Handshakes that may fail in a row before the worker gives up.
    static let maxFailedHandshakes = 5

    private func stop(because reason: String) -> SocketLoopStep {
        logger.critical("\(reason)")
        failure.set(WorkerStopped(description: reason))
        return .stop
    }

    /// Sends `message`, in parts when it is large; false when it (or one of its parts) could
    /// not be queued, so that it is sent again whole later.
    @discardableResult
    private func send(_ message: BusMessage) -> Bool {
        guard let socket else { return false }
        do {
            for part in message.parts() {
                guard try socket.send(part.frames, dontWait: true) else { return false }
            }
            return true
        } catch {
            logger.warning("send failed", metadata: ["command": "\(message.command.rawValue)", "error": "\(error)"])
            return false
        }
    }

    /// Runs the job as a child task of the loop's service: files first (when it has any,
    /// fetched over the bus through this thread), then the engine; its end comes back as
    /// `.finished`, and its output, as it is written, goes to the run's batcher, which wakes
    /// the loop when it has something to send.
    private func start(_ job: JobAssignment) {
        guard let loop else { return }
        let running = RunningJob(jobID: job.jobID, attempt: job.attempt)
        let run = JobRun(running)
        runs[job.jobID] = run
        let batcher = SharedOutputBatcher(OutputBatcher(run: running, cap: job.limits.maxOutputBytes))
        outputs[job.jobID] = batcher
        let onOutput: JobOutputHandler = { stream, bytes in
            if batcher.append(stream, bytes) { loop.post(.output(running)) }
        }
        let engine = self.engine
        let pending = pendingFetches
        let fetcher = JobFileFetcher { request in
            try await pending.request(request) { loop.post(.fetch(request)) }
        }
        let folders = Result { () throws(FolderNotShared) in try configuration.folders(for: job) }
        loop.spawn {
            .finished(await run.execute { await Self.execute(job, folders: folders, engine: engine, fetcher: fetcher, onOutput: onOutput) })
        }
    }

    /// Runs the job with the shared folders it names; one it names that is not shared fails
    /// it at once, before its files are fetched or anything runs.
    private static func execute(
        _ job: JobAssignment, folders: Result<[SharedFolder], FolderNotShared>, engine: any JobEngine, fetcher: JobFileFetcher,
        onOutput: @escaping JobOutputHandler
    ) async -> JobOutcome {
        let shared: [SharedFolder]
        switch folders {
        case .success(let named): shared = named
        case .failure(let notShared):
            return JobOutcome(jobID: job.jobID, attempt: job.attempt, status: .failed, error: notShared.description)
        }
        var staged: String?
        if !job.files.isEmpty {
            do {
                staged = try await fetcher.fetch(job)
            } catch is CancellationError {
                return JobOutcome(jobID: job.jobID, attempt: job.attempt, status: .cancelled, error: "cancelled")
            } catch {
                return JobOutcome(jobID: job.jobID, attempt: job.attempt, status: .failed, error: "files_unavailable: \(error)")
            }
        }
        defer { if let staged { try? FileManager.default.removeItem(atPath: staged) } }
        return await engine.run(job, inputFiles: staged, folders: shared, onOutput: onOutput)
    }
}

/// One run of a job that the owner thread can cancel by itself, without cancelling the
/// loop: `execute` runs the operation in a task group that a `cancel()` cancels.
private final class JobRun: Sendable {
    let run: RunningJob
    var attempt: Int { run.attempt }
    private let cancelled: AsyncStream<Never>
    private let trigger: AsyncStream<Never>.Continuation

    init(_ run: RunningJob) {
        self.run = run
        (cancelled, trigger) = AsyncStream.makeStream()
    }

    /// Stops the run (the operation sees task cancellation and still returns its outcome).
    func cancel() { trigger.finish() }

    func execute(_ operation: @escaping @Sendable () async -> JobOutcome) async -> JobOutcome {
        await withTaskGroup(of: JobOutcome?.self) { group in
            group.addTask { await operation() }
            group.addTask { [cancelled] in
                // Ends when `cancel()` is called, or when the run is over (cancelled below).
                for await _ in cancelled {}
                return nil
            }
            // The first to end is the operation, or the cancel, which cancels the operation,
            // whose outcome then comes next.
            for await next in group {
                group.cancelAll()
                if let outcome = next { return outcome }
            }
            return JobOutcome(jobID: run.jobID, attempt: run.attempt, status: .cancelled, error: "cancelled")
        }
    }
}

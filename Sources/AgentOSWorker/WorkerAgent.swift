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
/// The socket lives on one owner thread; jobs run as tasks that report back via a mailbox.
public final class WorkerAgent: Service, @unchecked Sendable {
    private enum Event: Sendable {
        case finished(JobOutcome)
        case shutdown
    }

    private struct RunningTask {
        let attempt: Int
        let task: Task<Void, Never>
    }

    private let configuration: WorkerConfiguration
    private let engine: any JobEngine
    private let logger: Logger
    private let context: Context
    private let mailbox: Mailbox<Event>
    private let fatal = Mutex<WorkerStopped?>(nil)

    // Owner-thread state.
    private var socket: Socket?
    private var welcomed = false
    private var heartbeatInterval: TimeInterval = 1
    private var deadAfterIntervals = 5
    private var lastHeard = Date()
    private var lastSent = Date.distantPast
    private var helloSentAt = Date.distantPast
    /// How long to wait for a `WELCOME` before starting over with a new socket; doubles per
    /// try up to `maxReconnectDelay`, from the dead-peer timeout. (libzmq itself reconnects
    /// the TCP connection within seconds; a new socket only clears a stuck session.)
    private var helloTimeout: TimeInterval?
    private var running: [String: RunningTask] = [:]
    /// Outcomes not yet acknowledged by a live connection; resent after a reconnect.
    private var unsent: [String: JobOutcome] = [:]
    /// Outcomes sent recently. The bus has no acknowledgement, so a result sent just before
    /// the server went down may be lost: these are reported and resent after a reconnect,
    /// and the server ignores any it already has.
    private var recentlySent: [String: (outcome: JobOutcome, at: Date)] = [:]
    private var draining = false

    /// A worker running jobs through `engine`.
    public init(configuration: WorkerConfiguration, engine: any JobEngine, logger: Logger) throws {
        self.configuration = configuration
        self.engine = engine
        self.logger = logger
        self.context = try Context()
        self.mailbox = try Mailbox()
    }

    /// Runs until graceful shutdown (after draining) or until the server refuses it for good.
    public func run() async throws {
        let thread = OwnerThread(name: "agentos-worker") { [self] in loop() }
        await withGracefulShutdownHandler {
            await thread.join()
        } onGracefulShutdown: { [mailbox] in
            mailbox.post(.shutdown)
        }
        if let stopped = fatal.withLock({ $0 }) { throw stopped }
    }

    // MARK: Loop

    private func loop() {
        connect()
        var shutdownDeadline: Date?
        defer {
            // However the loop ends, no job process outlives the worker.
            stopJobs()
            socket?.close()
            socket = nil
        }
        while true {
            guard let socket else { return }
            var poller = Poller()
            let socketIndex = poller.add(socket)
            let mailboxIndex = poller.add(fd: mailbox.fileDescriptor)
            let ready: Set<Int>
            do {
                ready = try poller.poll(timeoutMs: Int(max(10, heartbeatInterval * 250)))
            } catch {
                logger.critical("worker poll failed", metadata: ["error": "\(error)"])
                return
            }
            if ready.contains(mailboxIndex) {
                for event in mailbox.takeAll() {
                    switch event {
                    case .finished(let outcome):
                        // The end of a replaced, older attempt is nobody's business any more.
                        guard running[outcome.jobID]?.attempt == outcome.attempt else { continue }
                        running[outcome.jobID] = nil
                        unsent[outcome.jobID] = Self.fitting(outcome)
                        sendUnsent()
                    case .shutdown:
                        guard shutdownDeadline == nil else { continue }
                        shutdownDeadline = Date().addingTimeInterval(configuration.drainTimeout)
                        draining = true
                        logger.notice("draining", metadata: ["running": "\(running.count)"])
                        send(.drain, EmptyBody())
                    }
                }
            }
            if ready.contains(socketIndex) { receiveWaiting() }
            if fatal.withLock({ $0 }) != nil { return }
            if let deadline = shutdownDeadline, (running.isEmpty && unsent.isEmpty) || Date() >= deadline {
                handBackAndLeave()
                return
            }
            keepAlive()
        }
    }

    private func connect() {
        socket?.close()
        welcomed = false
        do {
            let socket = try context.makeSocket(.dealer)
            try socket.setLinger(0)
            try socket.setMaxMessageSize(Int64(Bus.maxMessageBytes))
            try socket.setReconnectInterval(100, max: 2000)
            try socket.connect(configuration.serverEndpoint)
            self.socket = socket
        } catch {
            logger.critical("cannot create the bus socket", metadata: ["error": "\(error)"])
            fatal.withLock { $0 = WorkerStopped(description: "cannot connect to \(configuration.serverEndpoint): \(error)") }
            socket = nil
            return
        }
        sendHello()
    }

    private func sendHello() {
        for (jobID, sent) in recentlySent { unsent[jobID] = sent.outcome }
        recentlySent.removeAll()
        let reported = running.map { RunningJob(jobID: $0.key, attempt: $0.value.attempt) }
            + unsent.values.map { RunningJob(jobID: $0.jobID, attempt: $0.attempt) }
        send(.hello, Hello(
            workerID: configuration.workerID, name: configuration.name, version: AgentOSVersion.current,
            slots: configuration.slots, labels: configuration.labels, runtimes: ["python3"], kind: configuration.kind,
            credential: configuration.credentialSource?() ?? configuration.credential, running: reported))
        helloSentAt = Date()
        lastHeard = Date()
    }

    /// Heartbeats while welcomed; reconnects (with backoff) when the server has gone quiet.
    private func keepAlive() {
        let now = Date()
        let silence = now.timeIntervalSince(lastHeard)
        let deadAfter = heartbeatInterval * Double(deadAfterIntervals)
        recentlySent = recentlySent.filter { now.timeIntervalSince($0.value.at) < deadAfter * 2 }
        if welcomed {
            if silence > deadAfter {
                logger.warning("server silent; reconnecting", metadata: ["silent_s": "\(Int(silence))"])
                connect()
            } else if now.timeIntervalSince(lastSent) >= heartbeatInterval {
                send(.heartbeat, EmptyBody())
            }
        } else if now.timeIntervalSince(helloSentAt) >= helloTimeout ?? deadAfter {
            logger.info("no welcome yet; retrying", metadata: ["endpoint": "\(configuration.serverEndpoint)"])
            helloTimeout = min(configuration.maxReconnectDelay, max(deadAfter, (helloTimeout ?? deadAfter) * 2))
            connect()
        }
    }

    // MARK: Messages from the server

    private func receiveWaiting() {
        while let socket, let frames = try? socket.receive(dontWait: true) {
            lastHeard = Date()
            let message: BusMessage
            do {
                message = try BusMessage(frames: frames[...])
            } catch {
                logger.warning("dropped malformed message from server", metadata: ["error": "\(error)"])
                continue
            }
            do {
                try handle(message)
            } catch {
                logger.warning("bad message from server", metadata: ["command": "\(message.command.rawValue)", "error": "\(error)"])
            }
        }
    }

    private func handle(_ message: BusMessage) throws {
        switch message.command {
        case .welcome:
            let welcome = try message.decode(Welcome.self)
            welcomed = true
            heartbeatInterval = max(0.05, Double(welcome.heartbeatMS) / 1000)
            deadAfterIntervals = max(2, welcome.deadAfterIntervals)
            helloTimeout = nil
            logger.info("connected", metadata: ["server": "\(configuration.serverEndpoint)", "worker": "\(configuration.name)"])
            if draining { send(.drain, EmptyBody()) }
            sendUnsent()
        case .reject:
            let reject = try message.decode(Reject.self)
            if reject.code == Reject.notRegistered {
                // The server forgot us (it restarted): introduce ourselves again.
                if welcomed { sendHello() }
                welcomed = false
            } else if reject.code == Reject.unavailable {
                // The server could not decide now; the hello timer tries again.
                logger.warning("server could not accept this worker yet", metadata: ["reason": "\(reject.message)"])
                welcomed = false
            } else {
                logger.critical("server refused this worker", metadata: ["code": "\(reject.code)", "reason": "\(reject.message)"])
                let advice = configuration.kind == .private && reject.code == Reject.unauthorized
                    ? " (your login may have expired: run `agentos login` again)" : ""
                fatal.withLock { $0 = WorkerStopped(description: "the server refused this worker: \(reject.message)\(advice)") }
            }
        case .heartbeat:
            break
        case .job:
            start(try message.decode(JobAssignment.self))
        case .cancel:
            let cancel = try message.decode(RunningJob.self)
            if let task = running[cancel.jobID], task.attempt == cancel.attempt {
                task.task.cancel()
            } else if unsent[cancel.jobID]?.attempt != cancel.attempt {
                // Nothing of that run here (its JOB never arrived whole): say so, or the
                // server would hold its slot until the next hello.
                send(.release, cancel)
            }
            // An unsent outcome still goes out: the server frees the slot on it and ignores the rest.
            if recentlySent[cancel.jobID]?.outcome.attempt == cancel.attempt { recentlySent[cancel.jobID] = nil }
        case .hello, .started, .result, .release, .drain, .bye:
            throw BusDecodingError(description: "not a server command")
        }
    }

    private func start(_ job: JobAssignment) {
        guard !draining else {
            send(.release, RunningJob(jobID: job.jobID, attempt: job.attempt))
            return
        }
        if let current = running[job.jobID] {
            // A repeated JOB changes nothing. A newer attempt of a job this worker still runs
            // (the server gave up on the old one, e.g. during a reconnect) replaces the old run.
            guard job.attempt > current.attempt else { return }
            current.task.cancel()
        }
        let engine = self.engine
        let mailbox = self.mailbox
        let fetcher = configuration.fileFetcher
        let task = Task {
            var staged: String?
            if !job.files.isEmpty {
                do {
                    guard let fetcher else {
                        throw JobFileFetcher.Failure(description: "this worker was started without --gateway, so it cannot fetch job files")
                    }
                    staged = try await fetcher.fetch(job)
                } catch {
                    mailbox.post(.finished(JobOutcome(
                        jobID: job.jobID, attempt: job.attempt, status: .failed, error: "files_unavailable: \(error)")))
                    return
                }
            }
            defer { if let staged { try? FileManager.default.removeItem(atPath: staged) } }
            let outcome = await engine.run(job, inputFiles: staged)
            mailbox.post(.finished(outcome))
        }
        running[job.jobID] = RunningTask(attempt: job.attempt, task: task)
        send(.started, RunningJob(jobID: job.jobID, attempt: job.attempt))
    }

    // MARK: Sending

    private func sendUnsent() {
        guard welcomed else { return }
        for outcome in unsent.values where send(.result, outcome) {
            unsent[outcome.jobID] = nil
            recentlySent[outcome.jobID] = (outcome, Date())
        }
    }

    /// Stops what still runs, then says goodbye: the server puts those runs back in the queue
    /// with the attempt counted (they did start), so a job that never fits a drain window
    /// cannot come back for ever.
    private func handBackAndLeave() {
        if !running.isEmpty { logger.notice("stopping unfinished jobs", metadata: ["count": "\(running.count)"]) }
        stopJobs()
        send(.bye, EmptyBody())
        // Give the goodbye a moment to leave before the socket closes.
        try? socket?.setLinger(500)
        logger.notice("worker stopped")
    }

    /// Cancels every running job and waits (briefly) until their engines report back, so no
    /// job process outlives the worker.
    private func stopJobs() {
        guard !running.isEmpty else { return }
        running.values.forEach { $0.task.cancel() }
        var poller = Poller()
        let mailboxIndex = poller.add(fd: mailbox.fileDescriptor)
        let deadline = Date().addingTimeInterval(5)
        while !running.isEmpty, Date() < deadline {
            guard let ready = try? poller.poll(timeoutMs: 100), ready.contains(mailboxIndex) else { continue }
            for case .finished(let outcome) in mailbox.takeAll() where running[outcome.jobID]?.attempt == outcome.attempt {
                running[outcome.jobID] = nil
            }
        }
        if !running.isEmpty {
            logger.error("jobs did not stop in time", metadata: ["jobs": "\(running.keys.sorted())"])
        }
        running.removeAll()
    }

    /// An outcome small enough for one bus message: an engine that lets a result through
    /// past the bus limit gets it replaced by an `output_limit` failure, never a lost result.
    static func fitting(_ outcome: JobOutcome) -> JobOutcome {
        let size = BusMessage(.result, outcome).body.count
        guard size > Bus.maxMessageBytes - 4096 else { return outcome }
        var small = outcome
        small.status = .failed
        small.result = nil
        small.error = "output_limit: the outcome is \(size) bytes, over the bus limit of \(Bus.maxMessageBytes)"
        small.stdout = String(decoding: Array(outcome.stdout.utf8.prefix(65_536)), as: UTF8.self)
        small.stderr = String(decoding: Array(outcome.stderr.utf8.prefix(65_536)), as: UTF8.self)
        small.outputTruncated = true
        return small
    }

    @discardableResult
    private func send<Body: Encodable>(_ command: BusCommand, _ body: Body) -> Bool {
        guard let socket else { return false }
        do {
            let sent = try socket.send(BusMessage(command, body).frames, dontWait: true)
            if sent { lastSent = Date() }
            return sent
        } catch {
            logger.warning("send failed", metadata: ["command": "\(command.rawValue)", "error": "\(error)"])
            return false
        }
    }
}

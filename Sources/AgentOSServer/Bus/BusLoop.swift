import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import ZeroMQ

/// The job bus: owns the ROUTER socket workers connect to, and the dispatcher. It is the
/// driver of the `agentos-bus` socket loop, so everything here runs on that one thread;
/// other threads talk to it by posting events to the loop.
final class BusLoop: SocketLoopDriver {
    /// What other threads tell the bus thread.
    enum Event: Sendable {
        /// A job was queued: try to dispatch.
        case jobQueued(QueuedJob)
        /// A queued job was cancelled: it leaves the queue.
        case jobDequeued(jobID: String)
        /// A running job was cancelled: tell its worker to stop it.
        case jobCancelled(jobID: String, workerID: String, attempt: Int)
        /// A `HELLO` passed authentication; `sequence` orders hellos of one worker id.
        case helloAccepted(identity: [UInt8], hello: Hello, principal: WorkerPrincipal, sequence: Int)
        /// A `HELLO` failed authentication.
        case helloRejected(identity: [UInt8], workerID: String, reject: Reject, sequence: Int)
        /// A credential was revoked or a user disabled: disconnect the workers using it.
        case revoke(Revocation)
        /// A file read for a `FETCH` of the connection `identity` ended: send its answer.
        case fileRead(identity: [UInt8], chunk: FileChunk)
        /// What a write to the shared store (by any server) changed.
        case shared(StoreEvent)
    }

    typealias Authenticate = @Sendable (Hello) async -> Result<WorkerPrincipal, Reject>

    private let socket: Socket
    private let dispatcher: Dispatcher
    private let directory: WorkerDirectory
    private let authenticate: Authenticate
    private let tickInterval: TimeInterval
    private let logger: Logger
    private var loop: SocketLoopHandle<Event>?
    private var nextTick = Date()
    /// The latest hello per worker id: a slower verdict for an older hello must not win.
    private var latestHello: [String: Int] = [:]
    private var helloCount = 0
    /// Hello checks running now, and the most that may: past it, a hello is shed.
    private var helloChecks = 0
    private let maxHelloChecks: Int
    /// Hellos shed since the last notice about them, and when that notice was.
    private var shed = 0
    private var lastShedNotice = Date.distantPast
    /// Whether the workers may have changed since the directory was last published. A
    /// heartbeat changes only when a worker was last heard from, which the next tick
    /// publishes: with thousands of workers, copying the whole list after every message
    /// would cost the bus thread more than the messages themselves.
    private var directoryStale = true
    /// Whether the last read found the socket empty: every message that arrived was handled.
    private var inputDrained = true
    /// How many warnings each peer may write to the log.
    private var warnings = WarningLimiter()
    /// Workers' large messages, being put together.
    private var parts = PartAssembler()
    /// Reads the chunks workers `FETCH`, off this thread.
    private let files: JobFileReader
    /// Where file reads run: threads of their own, so a burst of `FETCH`es never holds up the
    /// hello checks on Swift's cooperative pool.
    private let fileExecutor: (any TaskExecutor)?
    /// File reads in flight, per connection and in all, and the most of each: past them a
    /// `FETCH` is answered `busy`, so no worker can make the server read a lot at once.
    private var fileReads: [[UInt8]: Int] = [:]
    private var fileReadsTotal = 0
    private let maxFileReadsPerConnection: Int
    private let maxFileReads: Int

    /// Binds the bus; fails at once when the endpoint cannot be bound. With a CURVE secret key
    /// the bus encrypts, and the context's `ZAPHandler` checks each peer's key (domain `bus`).
    init(
        context: Context, endpoint: String, dispatcher: Dispatcher, directory: WorkerDirectory,
        tickInterval: TimeInterval, authenticate: @escaping Authenticate, maxHelloChecks: Int = 2048,
        files: JobFileReader, fileExecutor: (any TaskExecutor)? = nil, maxFileReadsPerConnection: Int = 8, maxFileReads: Int = 64,
        curveSecretKey: String? = nil, logger: Logger
    ) throws {
        self.maxHelloChecks = max(1, maxHelloChecks)
        self.files = files
        self.fileExecutor = fileExecutor
        self.maxFileReadsPerConnection = max(1, maxFileReadsPerConnection)
        self.maxFileReads = max(1, maxFileReads)
        socket = try context.makeSocket(.router)
        if let curveSecretKey {
            try socket.setCurveServer(secretKey: curveSecretKey)
            try socket.setZAPDomain(ZAPHandler.busDomain)
        }
        try socket.setLinger(0)
        try socket.setRouterMandatory(true)
        try socket.setRouterHandover(true)
        try socket.setMaxMessageSize(Int64(Bus.maxInboundMessageBytes))
        try socket.setSendHighWaterMark(10_000)
        do {
            try socket.bind(endpoint)
        } catch {
            throw BindError(what: "the job bus", endpoint: endpoint, underlying: error)
        }
        self.dispatcher = dispatcher
        self.directory = directory
        self.authenticate = authenticate
        self.tickInterval = tickInterval
        self.logger = logger
    }

    /// The bound endpoint (with the real port when bound to `:*` or `:0`); read it before the loop starts.
    var boundEndpoint: String { (try? socket.lastEndpoint) ?? "" }

    // MARK: SocketLoopDriver

    var sockets: [Socket] { [socket] }

    var pollTimeoutMS: Int { dispatcher.hasBacklog ? 0 : max(0, Int(nextTick.timeIntervalSinceNow * 1000)) }

    func started(_ loop: SocketLoopHandle<Event>) throws -> SocketLoopStep {
        self.loop = loop
        return .continue
    }

    func readable(_ index: Int) throws -> SocketLoopStep {
        receiveWaiting()
        return .continue
    }

    func handle(_ event: Event) throws -> SocketLoopStep {
        handleEvent(event)
        return .continue
    }

    func afterPoll() throws -> SocketLoopStep {
        if Date() >= nextTick {
            perform("tick") { try dispatcher.tick(inputDrained: inputDrained) }
            // A sender quiet for a minute halfway through a message has gone.
            if parts.count > 0 { parts.dropIdle(since: Date().addingTimeInterval(-60)) }
            nextTick = Date().addingTimeInterval(tickInterval)
            directoryStale = true
        }
        // Everything this iteration received and queued, in one transaction.
        perform("commit") { dispatcher.commit() }
        if directoryStale {
            directory.publish(dispatcher.connectedWorkers)
            directoryStale = false
        }
        return .continue
    }

    func stopped() {
        socket.close()
    }

    private func handleEvent(_ event: Event) {
        directoryStale = true
        switch event {
        case .jobQueued(let job):
            dispatcher.enqueue([job])
        case .jobDequeued(let jobID):
            dispatcher.dequeue(jobID: jobID)
        case .jobCancelled(let jobID, let workerID, let attempt):
            perform("cancel") { dispatcher.cancel(jobID: jobID, attempt: attempt, on: workerID) }
        case .helloAccepted(let identity, let hello, let principal, let sequence):
            helloChecks -= 1
            guard latestHello[hello.workerID] == sequence else {
                logger.info("dropped the verdict on an older hello", metadata: ["worker": "\(hello.name)"])
                return
            }
            latestHello[hello.workerID] = nil
            perform("hello") { try dispatcher.accept(identity: identity, hello: hello, principal: principal) }
        case .helloRejected(let identity, let workerID, let reject, let sequence):
            helloChecks -= 1
            if latestHello[workerID] == sequence { latestHello[workerID] = nil }
            warnings.warn("worker rejected", peer: identity, ["code": "\(reject.code)", "reason": "\(reject.message)"], to: logger)
            send([Outbound(identity: identity, message: BusMessage(.reject, reject))])
        case .revoke(let revocation):
            perform("revoke") { try dispatcher.revoke(revocation) }
        case .fileRead(let identity, let chunk):
            fileReadsTotal -= 1
            fileReads[identity] = fileReads[identity].flatMap { $0 > 1 ? $0 - 1 : nil }
            send([Outbound(identity: identity, message: BusMessage(.file, chunk))])
        case .shared(let event):
            handleShared(event)
        }
    }

    /// Reads what is waiting, a bounded batch at a time so timers and the mailbox stay served.
    private func receiveWaiting() {
        inputDrained = false
        for _ in 0..<1000 {
            let frames: [[UInt8]]
            do {
                guard let received = try socket.receive(dontWait: true) else {
                    inputDrained = true
                    return
                }
                frames = received
            } catch {
                logger.error("bus receive failed", metadata: ["error": "\(error)"])
                return
            }
            guard frames.count >= 2 else { continue }
            let identity = frames[0]
            var message: BusMessage
            do {
                message = try BusMessage(frames: frames[1...])
            } catch {
                warnings.warn("dropped malformed bus message", peer: identity, ["error": "\(error)"], to: logger)
                continue
            }
            // A welcomed worker's large message comes in PARTs (a stranger's is refused below,
            // as any message before HELLO is).
            if message.command == .part, dispatcher.isWelcomed(identity) {
                // A piece is a sign of life: a large result on a slow link takes a while.
                dispatcher.heard(from: identity)
                do {
                    guard let whole = try parts.add(message.decode(MessagePart.self), from: identity) else { continue }
                    message = whole
                } catch {
                    warnings.warn("dropped a bad message part", peer: identity, ["error": "\(error)"], to: logger)
                    continue
                }
            }
            if message.command == .hello {
                beginHello(identity: identity, message: message)
            } else if message.command == .fetch, dispatcher.isWelcomed(identity) {
                beginFetch(identity: identity, message: message)
            } else {
                if ![.heartbeat, .started, .output].contains(message.command) { directoryStale = true }
                perform(message.command.rawValue, peer: identity) { try dispatcher.receive(identity: identity, message: message) }
            }
        }
    }

    /// Checks a hello's shape here and its credential off-thread (JWT verification and the
    /// token lookup stay off the bus thread); the answer comes back as an event.
    private func beginHello(identity: [UInt8], message: BusMessage) {
        let hello: Hello
        do {
            hello = try message.decode(Hello.self)
        } catch {
            send([Outbound(identity: identity, message: BusMessage(.reject, Reject(code: Reject.badRequest, message: "\(error)")))])
            return
        }
        if let problem = Self.problem(with: hello) {
            send([Outbound(identity: identity, message: BusMessage(.reject, problem))])
            return
        }
        // Overload sheds new hellos, never registered workers: past the limit of checks in
        // flight a hello is told to come back later, and the worker's jittered hello retry
        // spreads the next attempts.
        guard helloChecks < maxHelloChecks else {
            send([Outbound(identity: identity, message: BusMessage(.reject, Reject(
                code: Reject.unavailable, message: "the server cannot check credentials right now: too many workers are connecting; try again shortly")))])
            shed += 1
            if Date().timeIntervalSince(lastShedNotice) >= 5 {
                logger.notice("shedding hellos: too many at once", metadata: ["shed": "\(shed)", "checking": "\(helloChecks)"])
                shed = 0
                lastShedNotice = Date()
            }
            return
        }
        helloChecks += 1
        helloCount += 1
        let sequence = helloCount
        latestHello[hello.workerID] = sequence
        let authenticate = self.authenticate
        loop?.spawn {
            switch await authenticate(hello) {
            case .success(let principal):
                .helloAccepted(identity: identity, hello: hello, principal: principal, sequence: sequence)
            case .failure(let reject):
                .helloRejected(identity: identity, workerID: hello.workerID, reject: reject, sequence: sequence)
            }
        }
    }

    /// Answers a welcomed worker's `FETCH`: what the dispatcher can refuse at once it refuses
    /// here; otherwise, within the limits on reads in flight, the file is checked against the
    /// database and read by a task of its own, which posts the `FILE` back to this thread.
    private func beginFetch(identity: [UInt8], message: BusMessage) {
        let fetch: FileFetch
        do {
            fetch = try message.decode(FileFetch.self)
        } catch {
            warnings.warn("dropped bad worker message", peer: identity, ["command": "FETCH", "error": "\(error)"], to: logger)
            return
        }
        switch dispatcher.admitFetch(identity: identity, fetch: fetch) {
        case .answer(let answer):
            send(answer)
        case .read(let workerID):
            guard fileReads[identity, default: 0] < maxFileReadsPerConnection, fileReadsTotal < maxFileReads else {
                send([Outbound(identity: identity, message: BusMessage(.file, FileChunk(answering: fetch, failure: .init(
                    code: FileChunk.Failure.busy, message: "too many file reads at once; ask again shortly"))))])
                return
            }
            fileReads[identity, default: 0] += 1
            fileReadsTotal += 1
            let files = self.files
            loop?.spawn(on: fileExecutor) { .fileRead(identity: identity, chunk: files.read(fetch, workerID: workerID)) }
        }
    }

    /// Why a hello is unacceptable, or nil when it is fine.
    static func problem(with hello: Hello) -> Reject? {
        guard hello.protocolVersion == Bus.protocolVersion else {
            return Reject(code: Reject.unsupportedProtocol, message: "protocol \(hello.protocolVersion) is not supported; this server speaks \(Bus.protocolVersion)")
        }
        let problem: String? =
            if hello.workerID.isEmpty || hello.workerID.utf8.count > 128 { "worker_id must be 1-128 bytes" }
            else if hello.name.isEmpty || hello.name.utf8.count > 200 { "name must be 1-200 bytes" }
            else if !(1...1024).contains(hello.slots) { "slots must be 1-1024" }
            else if hello.labels.count > 64 || !hello.labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 }) { "at most 64 labels of 1-64 bytes" }
            else if hello.running.count > Bus.maxHelloRunning { "at most \(Bus.maxHelloRunning) running jobs" }
            else if let folders = hello.folders, !folders.isEmpty, hello.kind != .private { "only a private worker shares folders" }
            else if let folders = hello.folders,
                folders.count > FolderName.maxShared || Set(folders).count != folders.count || !folders.allSatisfy(FolderName.isValid) {
                "folders must be at most \(FolderName.maxShared) distinct names of \(FolderName.rule)"
            }
            else if ([hello.workerID, hello.name, hello.version] + hello.labels).contains(where: \.containsNUL) {
                "worker_id, name, version and labels must not contain U+0000 (NUL)"
            }
            else { nil }
        return problem.map { Reject(code: Reject.badRequest, message: $0) }
    }

    /// Runs a dispatcher step and sends what it produced; a failing step is logged, never fatal.
    /// Applies another server's (or this one's) write to this server's queue and workers.
    private func handleShared(_ event: StoreEvent) {
        switch event {
        case .queued(let job, let attempts):
            perform("queued elsewhere") { dispatcher.heardQueued(job, attempts: attempts) }
        case .dequeued(let jobID):
            dispatcher.heardDequeued(jobID: jobID)
        case .cancelled(let jobID, let attempt, let workerID):
            perform("cancel") { dispatcher.cancel(jobID: jobID, attempt: attempt, on: workerID) }
        case .finished:
            // Watchers are woken where the event is heard; the bus has nothing to do.
            break
        case .revoked(let credential):
            let revocation: Revocation = switch credential {
            case .user(let id): .user(id)
            case .session(let id): .credential(.session(id))
            case .personalToken(let id): .credential(.personalToken(id))
            case .workerToken(let id): .credential(.workerToken(id))
            }
            perform("revoke") { try dispatcher.revoke(revocation) }
        case .resync:
            perform("resync") {
                try dispatcher.resync()
                return []
            }
        }
    }

    private func perform(_ what: String, peer: [UInt8] = [], _ step: () throws -> [Outbound]) {
        do {
            send(try step())
        } catch let error as BusDecodingError {
            warnings.warn("dropped bad worker message", peer: peer, ["command": "\(what)", "error": "\(error)"], to: logger)
        } catch {
            logger.error("bus step failed", metadata: ["step": "\(what)", "error": "\(error)"])
        }
    }

    private func send(_ messages: [Outbound]) {
        var queue = messages[...]
        while let outbound = queue.popFirst() {
            let delivered: Bool
            var connectionGone = false
            do {
                // false: the peer's queue is full (it is alive but not reading).
                delivered = try socket.send([outbound.identity] + outbound.message.frames, dontWait: true)
            } catch let error as ZMQError where error.isHostUnreachable {
                delivered = false
                connectionGone = true
            } catch {
                logger.error("bus send failed", metadata: ["error": "\(error)"])
                delivered = false
            }
            // A heartbeat or reject to a vanished peer can be dropped; a job must not be, nor
            // any other job still waiting in this batch for the same connection.
            if !delivered, outbound.message.command == .job {
                let sameConnection = queue.filter { $0.identity == outbound.identity && $0.message.command == .job }
                queue.removeAll { $0.identity == outbound.identity }
                let jobs = ([outbound] + sameConnection).compactMap { try? $0.message.decode(JobAssignment.self) }
                do {
                    queue.append(contentsOf: try dispatcher.undeliverable(jobs, to: outbound.identity, connectionGone: connectionGone))
                } catch {
                    logger.error("could not requeue undelivered jobs", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

import AgentOSWire
import Foundation
import HeapModule
import Logging
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// Why a request to the server got no answer.
public enum ServerClientError: Error, Equatable, Sendable {
    /// No connection to the server is up.
    case unreachable
    /// The server did not answer in time.
    case timedOut
}

/// The gateway's connection to the server's API socket: a DEALER owned by the
/// `agentos-gateway-client` socket loop, with responses matched to waiting requests by id.
/// It is a `Service`: the loop starts in `run()`, and requests made while it is not running
/// fail as `.unreachable`.
public final class ServerClient: Service, Sendable {
    private let loop: SocketLoop<ServerConnection>
    private let waiters: Waiters
    private let nextID = Atomic<UInt64>(0)
    /// Why the last handshake with the server failed, until one succeeds.
    private let handshake: HandshakeProblem

    /// A client for the server at `endpoint`; once running it connects, and reconnects, by itself.
    /// With `curve`, the connection is encrypted and the gateway shows the server its key.
    public init(endpoint: String, curve: CurveClient? = nil, logger: Logger) throws {
        let waiters = Waiters()
        let handshake = HandshakeProblem()
        self.waiters = waiters
        self.handshake = handshake
        loop = try SocketLoop(
            name: "agentos-gateway-client",
            driver: try ServerConnection(endpoint: endpoint, curve: curve, waiters: waiters, handshake: handshake, logger: logger))
    }

    /// What to tell a client when the server cannot be reached: the handshake's failure when
    /// one is known (a wrong key or token, which retrying will not mend), else a passing outage.
    public var unreachableMessage: String {
        handshakeFailure.map { "the gateway cannot reach the server: \($0)" } ?? "the server is unreachable; try again shortly"
    }

    /// Why the last handshake with the server failed, until one succeeds; nil when none did.
    public var handshakeFailure: String? { handshake.current }

    /// Sends a request and waits for the response, at most `timeout`.
    public func call(
        _ operation: APIOperation, token: String?, params: [String: String] = [:], body: Data = Data(),
        contentType: String? = nil, client: String? = nil, timeout: Duration
    ) async -> Result<APIResponse, ServerClientError> {
        let id = String(nextID.add(1, ordering: .relaxed).newValue)
        let request = APIRequest(
            id: id, operation: operation, token: token, params: params, body: body, contentType: contentType, client: client)
        let deadline = ContinuousClock.now + timeout
        return await withCheckedContinuation { continuation in
            guard waiters.add(id, continuation) else { return continuation.resume(returning: .failure(.unreachable)) }
            loop.post(.send(request, deadline: deadline))
        }
    }

    /// Runs the connection until graceful shutdown; requests still waiting then fail as `.unreachable`.
    public func run() async throws {
        waiters.open()
        try await loop.run()
    }
}

/// Why the gateway's handshakes with the server fail, set by the connection's thread and read
/// by request handlers.
private final class HandshakeProblem: Sendable {
    private let problem = Mutex<String?>(nil)
    var current: String? { problem.withLock { $0 } }
    func set(_ reason: String?) { problem.withLock { $0 = reason } }
}

/// Requests waiting for their response. Registration and closing share one lock, so no
/// request can be added after the connection has failed everyone left.
private final class Waiters: Sendable {
    typealias Waiter = CheckedContinuation<Result<APIResponse, ServerClientError>, Never>

    private struct State {
        var open = false
        var waiting: [String: Waiter] = [:]
    }

    private let state = Mutex(State())

    /// Accepts requests from now on (the loop is about to start).
    func open() {
        state.withLock { $0.open = true }
    }

    /// Registers a waiter, or returns false when the connection is not running.
    func add(_ id: String, _ waiter: Waiter) -> Bool {
        state.withLock { state in
            guard state.open else { return false }
            state.waiting[id] = waiter
            return true
        }
    }

    /// Resumes the waiter of `id`, if it still waits.
    func complete(_ id: String, with result: Result<APIResponse, ServerClientError>) {
        state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: result)
    }

    /// Refuses new requests and fails every waiting one.
    func close() {
        let left = state.withLock { state in
            state.open = false
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        left.forEach { $0.resume(returning: .failure(.unreachable)) }
    }
}

/// The DEALER's owner-thread side: sends requests, matches responses, times requests out.
private final class ServerConnection: SocketLoopDriver {
    enum Event: Sendable {
        case send(APIRequest, deadline: ContinuousClock.Instant)
    }

    private struct Deadline: Comparable {
        let at: ContinuousClock.Instant
        let id: String
        static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at < rhs.at }
    }

    private let socket: Socket
    /// The socket's handshakes: a refused or mismatched key is logged as what it is, since
    /// otherwise the gateway would only answer 503 without saying why.
    private let monitor: Socket
    private let endpoint: String
    private let curve: Bool
    private let waiters: Waiters
    private let handshake: HandshakeProblem
    private let logger: Logger
    /// When each request sent gives up; answered ones simply find no waiter when they expire.
    private var deadlines = Heap<Deadline>()
    /// When a failed handshake was last logged: a reconnect loop logs once a minute.
    private var lastHandshakeError = ContinuousClock.now - .seconds(3600)

    init(endpoint: String, curve: CurveClient?, waiters: Waiters, handshake: HandshakeProblem, logger: Logger) throws {
        socket = try Context().makeSocket(.dealer)
        try socket.setLinger(0)
        if let curve { try socket.setCurveClient(curve) }
        monitor = try socket.monitor(events: MonitorEvent.handshakeSucceeded | MonitorEvent.handshakeFailedNoDetail
            | MonitorEvent.handshakeFailedProtocol | MonitorEvent.handshakeFailedAuth)
        self.handshake = handshake
        self.endpoint = endpoint
        self.curve = curve != nil
        // Queue nothing for a server that is not connected: fail fast with 503 instead.
        try socket.setImmediate(true)
        try socket.setMaxMessageSize(Int64(API.maxMessageBytes))
        try socket.setReconnectInterval(100, max: 1000)
        try socket.connect(endpoint)
        self.waiters = waiters
        self.logger = logger
    }

    var sockets: [Socket] { [socket, monitor] }

    var pollTimeoutMS: Int {
        guard let next = deadlines.min else { return -1 }
        let left = ContinuousClock.now.duration(to: next.at)
        return max(0, Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1)
    }

    func readable(_ index: Int) throws -> SocketLoopStep {
        if index == 1 {
            handshakeEvents()
            return .continue
        }
        while let frames = try? socket.receive(dontWait: true) {
            do {
                let response = try APIResponse(frames: frames[...])
                waiters.complete(response.id, with: .success(response))
            } catch {
                logger.warning("dropped malformed response from server", metadata: ["error": "\(error)"])
            }
        }
        return .continue
    }

    func handle(_ event: Event) throws -> SocketLoopStep {
        switch event {
        case .send(let request, let deadline):
            let sent = (try? socket.send(request.frames, dontWait: true)) ?? false
            if sent {
                deadlines.insert(Deadline(at: deadline, id: request.id))
            } else {
                waiters.complete(request.id, with: .failure(.unreachable))
            }
        }
        return .continue
    }

    func afterPoll() throws -> SocketLoopStep {
        let now = ContinuousClock.now
        while let next = deadlines.min, next.at <= now {
            deadlines.removeMin()
            waiters.complete(next.id, with: .failure(.timedOut))
        }
        return .continue
    }

    func stopped() {
        socket.stopMonitoring()
        monitor.close()
        socket.close()
        waiters.close()
    }

    private func handshakeEvents() {
        while let frames = try? monitor.receive(dontWait: true) {
            guard let event = MonitorEvent(frames: frames) else { continue }
            let reason = switch event.event {
            case MonitorEvent.handshakeSucceeded: String?.none
            case MonitorEvent.handshakeFailedAuth where event.value == 400:
                "the server refused this gateway's key: --token-file must be the server's <data>/gateway-token"
            case MonitorEvent.handshakeFailedAuth: "the server could not check this gateway's key just now"
            case _ where !curve: "the server's API socket expects CURVE: give --server-key and --token-file"
            default: "the CURVE handshake failed: --server-key is not this server's key, or its API socket does not run CURVE"
            }
            handshake.set(reason)
            guard let reason, ContinuousClock.now - lastHandshakeError > .seconds(60) else { continue }
            lastHandshakeError = .now
            logger.error("cannot connect to the server: \(reason)", metadata: ["endpoint": "\(endpoint)", "value": "\(event.value)"])
        }
    }
}

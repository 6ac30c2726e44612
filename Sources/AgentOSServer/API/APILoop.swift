import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import ZeroMQ

/// The API socket: owns the ROUTER gateways connect to, as the driver of the `agentos-api`
/// socket loop. Each request is answered by an `APIHandler` call in a child task of the loop;
/// its response comes back as an event and leaves from here.
final class APILoop: SocketLoopDriver {
    enum Event: Sendable {
        case reply(identity: [UInt8], response: APIResponse, bytes: Int)
    }

    /// Requests being handled at once; past this the server answers 503 straight away.
    static let maxInFlight = 1024
    /// Bytes of requests being handled at once (uploads are the large ones); past this a
    /// request is answered 503 at once and its bytes let go, so concurrent large requests
    /// cannot take the server's memory.
    static let defaultMaxInFlightBytes = 128 << 20
    /// How long a graceful shutdown waits for requests in flight to be answered.
    static let drainTimeout: TimeInterval = 5

    private let socket: Socket
    private let handler: APIHandler
    /// Where handlers run: off the cooperative pool, as they may block on SQLite.
    private let executor: ThreadPoolExecutor
    private let logger: Logger
    private var loop: SocketLoopHandle<Event>?
    private var inFlight = 0
    /// Body bytes of the requests in flight.
    private let bodies: ByteBudget
    private var drainDeadline: Date?
    /// How many warnings each gateway connection may write to the log.
    private var warnings = WarningLimiter()

    /// Binds the API socket; fails at once when the endpoint cannot be bound. With a CURVE
    /// secret key it encrypts, and the context's `ZAPHandler` lets in only gateways (domain `api`).
    init(
        context: Context, endpoint: String, handler: APIHandler, executor: ThreadPoolExecutor,
        maxInFlightBytes: Int = defaultMaxInFlightBytes, curveSecretKey: String? = nil, logger: Logger
    ) throws {
        socket = try context.makeSocket(.router)
        if let curveSecretKey {
            try socket.setCurveServer(secretKey: curveSecretKey)
            try socket.setZAPDomain(ZAPHandler.apiDomain)
        }
        try socket.setLinger(0)
        try socket.setRouterMandatory(true)
        try socket.setMaxMessageSize(Int64(API.maxRequestBytes))
        do {
            try socket.bind(endpoint)
        } catch {
            throw BindError(what: "the API socket", endpoint: endpoint, underlying: error)
        }
        self.handler = handler
        self.executor = executor
        bodies = ByteBudget(limit: maxInFlightBytes)
        self.logger = logger
    }

    /// The bound endpoint; read it before the loop starts.
    var boundEndpoint: String { (try? socket.lastEndpoint) ?? "" }

    // MARK: SocketLoopDriver

    var sockets: [Socket] { [socket] }

    /// While draining, wake up now and then to check the deadline.
    var pollTimeoutMS: Int { drainDeadline == nil ? -1 : 100 }

    func started(_ loop: SocketLoopHandle<Event>) throws -> SocketLoopStep {
        self.loop = loop
        return .continue
    }

    func readable(_ index: Int) throws -> SocketLoopStep {
        receiveWaiting()
        return .continue
    }

    func handle(_ event: Event) throws -> SocketLoopStep {
        switch event {
        case .reply(let identity, let response, let bytes):
            inFlight -= 1
            bodies.give(bytes)
            send(response, to: identity)
        }
        return .continue
    }

    /// Stops taking requests (new ones get 503) and ends once those in flight are answered.
    func shutdownRequested() throws -> SocketLoopStep {
        drainDeadline = Date().addingTimeInterval(Self.drainTimeout)
        return inFlight == 0 ? .stop : .continue
    }

    func afterPoll() throws -> SocketLoopStep {
        guard let drainDeadline else { return .continue }
        if inFlight == 0 { return .stop }
        if Date() >= drainDeadline {
            logger.warning("stopping with requests unanswered", metadata: ["in_flight": "\(inFlight)"])
            return .stop
        }
        return .continue
    }

    func stopped() {
        socket.close()
    }

    // MARK: Requests

    private func receiveWaiting() {
        for _ in 0..<1000 {
            let received: (identity: [UInt8], request: Result<APIRequest, any Error>)
            do {
                guard let next = try nextRequest() else { return }
                received = next
            } catch {
                logger.error("api receive failed", metadata: ["error": "\(error)"])
                return
            }
            let identity = received.identity
            let request: APIRequest
            switch received.request {
            case .success(let parsed):
                request = parsed
            case .failure(let error):
                warnings.warn("dropped malformed api request", peer: identity, ["error": "\(error)"], to: logger)
                send(.error(id: "", status: 400, code: "bad_request", message: "malformed API request"), to: identity)
                continue
            }
            // The client address feeds the login throttle and the audit log: it must be an
            // address, not whatever a peer writes there.
            if let client = request.client, !IPAddress.isValid(client) {
                warnings.warn("dropped api request with a bad client address", peer: identity, ["client": "\(client.prefix(64))"], to: logger)
                send(.error(id: request.id, status: 400, code: "bad_request", message: "client must be an IPv4 or IPv6 address"), to: identity)
                continue
            }
            if drainDeadline != nil {
                send(.error(id: request.id, status: 503, code: "unavailable", message: "the server is shutting down; retry shortly"), to: identity)
                continue
            }
            // A request costs about twice its body while it is handled: the bytes, and what
            // they decode to (a JSON body's strings, an upload's blob on its way to disk).
            let bytes = request.body.count * 2
            guard inFlight < Self.maxInFlight, let loop, bodies.take(bytes) else {
                var busy = APIResponse.error(id: request.id, status: 503, code: "overloaded", message: "the server is busy; retry shortly")
                busy.headers["Retry-After"] = "1"
                send(busy, to: identity)
                continue
            }
            inFlight += 1
            let handler = self.handler
            let executor = self.executor
            loop.spawn(on: executor) {
                .reply(identity: identity, response: await handler.handle(request), bytes: bytes)
            }
        }
    }

    /// The next waiting request, parsed, or nil when none is waiting. The received frames
    /// end here, so a large request is held once (as its parsed body), not twice.
    private func nextRequest() throws -> (identity: [UInt8], request: Result<APIRequest, any Error>)? {
        guard let frames = try socket.receive(dontWait: true) else { return nil }
        guard frames.count >= 2 else {
            return (frames.first ?? [], .failure(BusDecodingError(description: "expected an identity and [tag, header, body]")))
        }
        return (frames[0], Result { try APIRequest(frames: frames[1...]) })
    }

    private func send(_ response: APIResponse, to identity: [UInt8]) {
        do {
            try socket.send([identity] + response.frames, dontWait: true)
        } catch {
            // The gateway went away; it will time the request out on its side.
            logger.debug("api reply undeliverable", metadata: ["error": "\(error)"])
        }
    }
}

import AgentOSWire
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// The API socket: owns the ROUTER gateways connect to. Requests are answered by
/// `APIHandler` tasks; their responses come back through the mailbox and leave from here.
final class APILoop: @unchecked Sendable {
    private enum Event: Sendable {
        case reply(identity: [UInt8], response: APIResponse)
        case stop
    }

    /// Requests being handled at once; past this the server answers 503 straight away.
    static let maxInFlight = 1024

    private let socket: Socket
    private let mailbox: Mailbox<Event>
    private let handler: APIHandler
    private let inFlight = Atomic<Int>(0)
    private let logger: Logger

    /// Binds the API socket; fails at once when the endpoint cannot be bound.
    init(context: Context, endpoint: String, handler: APIHandler, logger: Logger) throws {
        socket = try context.makeSocket(.router)
        try socket.setLinger(0)
        try socket.setRouterMandatory(true)
        try socket.setMaxMessageSize(Int64(API.maxMessageBytes))
        do {
            try socket.bind(endpoint)
        } catch {
            throw BindError(what: "the API socket", endpoint: endpoint, underlying: error)
        }
        mailbox = try Mailbox()
        self.handler = handler
        self.logger = logger
    }

    /// The bound endpoint.
    var boundEndpoint: String { (try? socket.lastEndpoint) ?? "" }

    /// Asks the loop to return (any thread).
    func stop() { mailbox.post(.stop) }

    /// The poll loop; returns after `stop()`.
    func run() {
        var poller = Poller()
        let socketIndex = poller.add(socket)
        let mailboxIndex = poller.add(fd: mailbox.fileDescriptor)
        defer { socket.close() }
        while true {
            let ready: Set<Int>
            do {
                ready = try poller.poll(timeoutMs: -1)
            } catch {
                logger.critical("api poll failed", metadata: ["error": "\(error)"])
                return
            }
            if ready.contains(mailboxIndex) {
                for event in mailbox.takeAll() {
                    switch event {
                    case .reply(let identity, let response): send(response, to: identity)
                    case .stop: return
                    }
                }
            }
            if ready.contains(socketIndex) { receiveWaiting() }
        }
    }

    private func receiveWaiting() {
        for _ in 0..<1000 {
            let frames: [[UInt8]]
            do {
                guard let received = try socket.receive(dontWait: true) else { return }
                frames = received
            } catch {
                logger.error("api receive failed", metadata: ["error": "\(error)"])
                return
            }
            guard frames.count >= 2 else { continue }
            let identity = frames[0]
            let request: APIRequest
            do {
                request = try APIRequest(frames: frames[1...])
            } catch {
                logger.warning("dropped malformed api request", metadata: ["error": "\(error)"])
                send(.error(id: "", status: 400, code: "bad_request", message: "malformed API request"), to: identity)
                continue
            }
            guard inFlight.add(1, ordering: .relaxed).newValue <= Self.maxInFlight else {
                inFlight.subtract(1, ordering: .relaxed)
                send(.error(id: request.id, status: 503, code: "overloaded", message: "the server is busy; retry shortly"), to: identity)
                continue
            }
            Task { [self] in
                let response = await handler.handle(request)
                inFlight.subtract(1, ordering: .relaxed)
                mailbox.post(.reply(identity: identity, response: response))
            }
        }
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

import AgentOSWire
import Foundation
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

/// The gateway's connection to the server's API socket: a DEALER owned by one thread,
/// with responses matched to waiting requests by id.
public final class ServerClient: Service, @unchecked Sendable {
    private enum Event: Sendable {
        case send(APIRequest)
        case stop
    }

    private typealias Waiter = CheckedContinuation<Result<APIResponse, ServerClientError>, Never>

    private let endpoint: String
    private let socket: Socket
    private let mailbox: Mailbox<Event>
    private let waiters = Mutex<[String: Waiter]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let thread: Mutex<OwnerThread?> = Mutex(nil)
    private let logger: Logger

    /// A client for the server at `endpoint`; it connects (and reconnects) in the background.
    public init(endpoint: String, logger: Logger) throws {
        let context = try Context()
        socket = try context.makeSocket(.dealer)
        try socket.setLinger(0)
        // Queue nothing for a server that is not connected: fail fast with 503 instead.
        try socket.setImmediate(true)
        try socket.setMaxMessageSize(Int64(API.maxMessageBytes))
        try socket.setReconnectInterval(100, max: 1000)
        try socket.connect(endpoint)
        mailbox = try Mailbox()
        self.endpoint = endpoint
        self.logger = logger
        let owner = OwnerThread(name: "agentos-gateway-client") { [self] in loop() }
        thread.withLock { $0 = owner }
    }

    /// Sends a request and waits for the response, at most `timeout`.
    public func call(
        _ operation: APIOperation, token: String?, params: [String: String] = [:], body: JSONValue? = nil,
        raw: Data? = nil, contentType: String? = nil, client: String? = nil, timeout: Duration
    ) async -> Result<APIResponse, ServerClientError> {
        let id = String(nextID.add(1, ordering: .relaxed).newValue)
        let request = APIRequest(
            id: id, operation: operation, token: token, params: params, body: body, raw: raw, contentType: contentType,
            client: client)
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        return await withCheckedContinuation { continuation in
            waiters.withLock { $0[id] = continuation }
            timer = Task { [self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { complete(id, with: .failure(.timedOut)) }
            }
            mailbox.post(.send(request))
        }
    }

    /// Runs until graceful shutdown, then stops the socket thread.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
        await thread.withLock { $0 }?.join()
    }

    /// Stops the socket thread and fails every waiting request.
    public func shutdown() {
        mailbox.post(.stop)
    }

    private func complete(_ id: String, with result: Result<APIResponse, ServerClientError>) {
        waiters.withLock { $0.removeValue(forKey: id) }?.resume(returning: result)
    }

    private func loop() {
        var poller = Poller()
        let socketIndex = poller.add(socket)
        let mailboxIndex = poller.add(fd: mailbox.fileDescriptor)
        defer {
            socket.close()
            let pending = waiters.withLock { waiters in
                defer { waiters.removeAll() }
                return Array(waiters.values)
            }
            pending.forEach { $0.resume(returning: .failure(.unreachable)) }
        }
        while true {
            guard let ready = try? poller.poll(timeoutMs: -1) else { return }
            if ready.contains(mailboxIndex) {
                for event in mailbox.takeAll() {
                    switch event {
                    case .send(let request):
                        let sent = (try? socket.send(request.frames, dontWait: true)) ?? false
                        if !sent { complete(request.id, with: .failure(.unreachable)) }
                    case .stop:
                        return
                    }
                }
            }
            if ready.contains(socketIndex) {
                while let frames = try? socket.receive(dontWait: true) {
                    do {
                        let response = try APIResponse(frames: frames[...])
                        complete(response.id, with: .success(response))
                    } catch {
                        logger.warning("dropped malformed response from server", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }
}

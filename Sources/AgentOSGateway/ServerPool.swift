import AgentOSWire
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// What the gateway asks of the server side: one server (`ServerClient`) or several sharing a
/// store (`ServerPool`).
public protocol ServerCalls: Sendable {
    /// Sends a request and waits for the response, at most `timeout`.
    func call(
        _ operation: APIOperation, token: String?, params: [String: String], body: Data, contentType: String?, client: String?,
        timeout: Duration
    ) async -> Result<APIResponse, ServerClientError>
    /// What to tell a client when no server can be reached.
    var unreachableMessage: String { get }
    /// Why the last handshake failed, until one succeeds; nil when none did.
    var handshakeFailure: String? { get }
}

extension ServerCalls {
    public func call(_ operation: APIOperation, token: String?, params: [String: String] = [:], timeout: Duration) async -> Result<APIResponse, ServerClientError> {
        await call(operation, token: token, params: params, body: Data(), contentType: nil, client: nil, timeout: timeout)
    }
}

extension ServerClient: ServerCalls {}

/// A gateway's connections to several servers sharing one store, one `ServerClient` each.
/// Requests go to the server that answered last; a probe (`health`, every second) keeps track
/// of which servers answer. A request that could not be sent goes to the next server; one that
/// got no answer does only when sending it twice is harmless: reads, and submits carrying an
/// `idempotency_key` (the store keeps one job per key). Any other request fails with 503,
/// since its server may have done it, and the next one goes elsewhere.
public final class ServerPool: Service, ServerCalls {
    private let clients: [ServerClient]
    private let endpoints: [String]
    /// Which servers answered their last request or probe, and which ever answered (a server
    /// not yet reached at start is not reported as lost).
    private let up: Mutex<[Bool]>
    private let answered: Mutex<[Bool]>
    /// The server requests go to first.
    private let preferred = Atomic<Int>(0)
    private let logger: Logger

    /// A pool over `endpoints` (the servers' API sockets), all with `curve` when given.
    public init(endpoints: [String], curve: CurveClient? = nil, logger: Logger) throws {
        precondition(!endpoints.isEmpty, "a pool needs a server")
        self.endpoints = endpoints
        self.clients = try endpoints.map { try ServerClient(endpoint: $0, curve: curve, logger: logger) }
        self.up = Mutex(Array(repeating: true, count: endpoints.count))
        self.answered = Mutex(Array(repeating: false, count: endpoints.count))
        self.logger = logger
    }

    public var unreachableMessage: String {
        clients.lazy.compactMap(\.handshakeFailure).first.map { "the gateway cannot reach the server: \($0)" }
            ?? "no server is reachable; try again shortly"
    }

    public var handshakeFailure: String? { clients.lazy.compactMap(\.handshakeFailure).first }

    public func call(
        _ operation: APIOperation, token: String?, params: [String: String], body: Data, contentType: String?, client: String?,
        timeout: Duration
    ) async -> Result<APIResponse, ServerClientError> {
        let deadline = ContinuousClock.now + timeout
        let retryable = Self.isRepeatable(operation, body: body)
        var last: Result<APIResponse, ServerClientError> = .failure(.unreachable)
        let candidates = order()
        for (position, index) in candidates.enumerated() {
            var left = deadline - .now
            guard left > .zero else { break }
            // A request that may go elsewhere and does not wait on purpose (`wait`) gives a
            // server that does not answer a few seconds, not the whole timeout.
            if retryable, params["wait"] == nil, position < candidates.count - 1 { left = min(left, Self.attemptTimeout) }
            last = await clients[index].call(
                operation, token: token, params: params, body: body, contentType: contentType, client: client, timeout: left)
            switch last {
            case .success:
                mark(index, up: true)
                preferred.store(index, ordering: .relaxed)
                return last
            case .failure(let failure):
                mark(index, up: false)
                // Unreachable: the request never left (the send failed), so any may go elsewhere.
                guard retryable || failure == .unreachable else { return last }
            }
        }
        return last
    }

    /// Servers in the order to try: those answering, from the preferred one on, then the rest.
    private func order() -> [Int] {
        let start = preferred.load(ordering: .relaxed)
        let rotation = (0..<clients.count).map { (start + $0) % clients.count }
        let answering = up.withLock { $0 }
        return rotation.filter { answering[$0] } + rotation.filter { !answering[$0] }
    }

    private func mark(_ index: Int, up isUp: Bool) {
        let changed = up.withLock { states -> Bool in
            defer { states[index] = isUp }
            return states[index] != isUp
        }
        let known = answered.withLock { states -> Bool in
            defer { if isUp { states[index] = true } }
            return states[index]
        }
        if changed && known {
            if isUp {
                logger.notice("server answers again", metadata: ["endpoint": "\(endpoints[index])"])
            } else {
                logger.warning("server does not answer; requests go to the others", metadata: ["endpoint": "\(endpoints[index])"])
            }
        }
    }

    /// How long a repeatable request waits for one server before trying the next.
    static let attemptTimeout = Duration.seconds(5)

    /// Whether a request may be sent again to another server: it changes nothing (a read), or
    /// the store makes a second one a no-op (a submit with an idempotency key).
    static func isRepeatable(_ operation: APIOperation, body: Data) -> Bool {
        if readOperations.contains(operation) { return true }
        guard operation == .submitJob, !body.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        else { return false }
        return object["idempotency_key"] is String
    }

    static let readOperations: Set<APIOperation> = Set(APIRoutes.all.filter { $0.method == "GET" }.map(\.operation))
        .union([.health, .metrics])

    /// Runs every connection, and the probe when there are several servers.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for client in clients { group.addTask { try await client.run() } }
            guard clients.count > 1 else { return }
            group.addTask { [self] in
                while !Task.isCancelledOrShuttingDown {
                    for index in clients.indices {
                        let answer = await clients[index].call(.health, token: nil, timeout: .seconds(1))
                        if case .success = answer { mark(index, up: true) } else { mark(index, up: false) }
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    /// Whether the current task was cancelled or its service group is shutting down.
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}

import AgentOSAPI
import AgentOSAuth
@testable import AgentOSServer
import AgentOSStore
import AgentOSTestSupport
import AgentOSWire
import Foundation
import Logging
import Synchronization
import Testing

/// Calls the server's API handler directly, over a new store (of `AGENTOS_TEST_STORE`'s
/// engine, SQLite in memory by default) and a temporary blob directory, with the bus events
/// it posts recorded.
final class APIHarness: Sendable {
    let store: any AppStore
    let handler: APIHandler
    let tokens: AccessTokens
    let fileTokens: JobFileTokens
    let dataDirectory: String
    let recorder = EventRecorder()
    /// The connected workers the handler sees; tests publish into it as the bus would.
    let directory = WorkerDirectory()
    let blobs: any BlobStore
    let secretKey: [UInt8]

    init(store: (any AppStore)? = nil, limits: APIHandler.Limits = APIHandler.Limits()) async throws {
        if let store {
            self.store = store
        } else {
            self.store = try await StoreEngine.configured.makeStore()
        }
        dataDirectory = NSTemporaryDirectory() + "agentos-api-\(UUID().uuidString.lowercased())"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let signing = Array("0123456789abcdef0123456789abcdef".utf8)
        secretKey = (0..<32).map { _ in UInt8.random(in: 0...255) }
        tokens = await AccessTokens(secret: signing, lifetime: 900)
        fileTokens = JobFileTokens(secret: signing)
        blobs = try DirectoryBlobStore.serving(self.store, directory: dataDirectory + "/blobs")
        handler = APIHandler(
            store: self.store, tokens: tokens, fileTokens: fileTokens, passwords: Passwords(cost: 4),
            secrets: SecretBox(key: secretKey), blobs: blobs, watch: JobWatch(),
            directory: directory, cluster: .init(busEndpoints: ["tcp://127.0.0.1:1"], curvePublicKey: nil, heartbeatMS: 1000),
            limits: limits, signals: recorder, logger: Logger(label: "test"))
    }

    deinit { try? FileManager.default.removeItem(atPath: dataDirectory) }

    /// A user with a live session and an access token for it.
    func user(_ name: String, role: SystemRole = .user, password: String = "password-1") throws -> User {
        try store.createUser(User(
            email: "\(name)@example.com", name: name, passwordHash: Passwords(cost: 4).hash(password), role: role))
    }

    func token(for user: User) async throws -> String {
        let session = AuthSession(userID: user.id, lifetime: 3600, address: nil)
        try store.createSession(session, refreshTokenHash: SecretToken.hash(UUID().uuidString))
        return try await tokens.issue(userID: user.id, sessionID: session.id)
    }

    func call(
        _ operation: APIOperation, token: String?, params: [String: String] = [:], body: JSONValue? = nil,
        raw: Data? = nil, client: String? = "127.0.0.1"
    ) async -> HarnessReply {
        let reply = HarnessReply(await handler.handle(APIRequest(
            id: "t", operation: operation, token: token, params: params, body: raw ?? body?.encoded() ?? Data(),
            contentType: raw == nil ? nil : "text/plain", client: client)))
        // Every answer any test provokes is one the API document declares, with its body
        // (`health` is the gateway's /healthz, documented as the gateway's).
        if operation != .health, operation != .metrics {
            do {
                try OpenAPIDocument.check(operation, status: reply.status, body: operation == .downloadFile && reply.status == 200 ? nil : reply.body)
            } catch {
                Issue.record("\(error)")
            }
        }
        return reply
    }

    /// The revocations posted to the bus so far.
    var revocations: [Revocation] {
        recorder.events.withLock { events in
            events.compactMap { if case .revoke(let revocation) = $0 { revocation } else { nil } }
        }
    }
}

/// A handler's response as the tests read it: the status, headers, and the body both parsed
/// (`body`, `.null` when it is not JSON) and as bytes (`raw`).
struct HarnessReply: Sendable {
    let status: Int
    let headers: [String: String]?
    let body: JSONValue
    let raw: Data

    init(_ response: APIResponse) {
        status = response.status
        headers = response.headers
        raw = response.body
        body = response.json ?? .null
    }

    var errorCode: String? { body["error"]?["code"]?.stringValue }
}

/// The signals the API sent the bus, in order.
final class EventRecorder: DispatchSignals {
    let events = Mutex<[BusLoop.Event]>([])

    func jobQueued(_ job: QueuedJob) { events.withLock { $0.append(.jobQueued(job)) } }

    func jobDequeued(jobID: String) { events.withLock { $0.append(.jobDequeued(jobID: jobID)) } }

    func jobCancelled(jobID: String, workerID: String, attempt: Int) {
        events.withLock { $0.append(.jobCancelled(jobID: jobID, workerID: workerID, attempt: attempt)) }
    }

    func revoke(_ revocation: Revocation) { events.withLock { $0.append(.revoke(revocation)) } }
}

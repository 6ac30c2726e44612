import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import PostgresNIO

/// The notifications of a shared PostgreSQL store: every write that another server must know
/// of sends one on the channel `agentos_events` (`pg_notify` inside the write's transaction,
/// so it is delivered only if the write commits, after it is visible). Payloads are small
/// text: `queued {…}` (the job's placement as JSON, or `queued ID` when that would not fit),
/// `dequeued ID`, `cancelled ID ATTEMPT WORKER`, `finished ID`, `revoked KIND ID`.
enum StoreNotification {
    static let channel = "agentos_events"

    /// A job that entered the queue, with what the other servers' queues need of it, so that
    /// they need not read it; its id alone when that would pass PostgreSQL's payload limit.
    static func queued(_ job: Job) -> String {
        let notice = QueuedNotice(
            id: job.id, attempts: job.attempts, priority: job.priority,
            createdAt: Int64((job.createdAt.timeIntervalSince1970 * 1000).rounded()), target: job.target, projectID: job.projectID,
            submittedBy: job.submittedBy, requestedWorker: job.requestedWorker, labels: job.labels)
        guard let json = try? RecordCoding.jsonEncoder.encode(notice), json.count < 7000 else { return "queued \(job.id)" }
        return "queued " + String(decoding: json, as: UTF8.self)
    }
    static func dequeued(_ id: String) -> String { "dequeued \(id)" }
    static func finished(_ id: String) -> String { "finished \(id)" }
    static func cancelled(_ id: String, attempt: Int, workerID: String) -> String { "cancelled \(id) \(attempt) \(workerID)" }
    static func revoked(_ credential: RevokedCredential) -> String {
        switch credential {
        case .user(let id): "revoked user \(id)"
        case .session(let id): "revoked session \(id)"
        case .personalToken(let id): "revoked personal_token \(id)"
        case .workerToken(let id): "revoked worker_token \(id)"
        }
    }
}

extension PostgresConnection {
    /// Sends `payloads` on the events channel when the current transaction commits.
    func notify(_ payloads: [String], logger: Logger) async throws {
        guard !payloads.isEmpty else { return }
        try await query(
            "SELECT pg_notify(\(StoreNotification.channel), payload) FROM unnest(\(payloads)::text[]) AS payload", logger: logger)
    }
}

extension PostgresStore: SharedStore {
    public func startEvents(_ handler: @escaping @Sendable (StoreEvent) -> Void) {
        events.start(store: self, handler: handler)
    }

    public func stopEvents() {
        events.stop()
    }

    /// Listens on one connection of its own (outside the pool) and hands events to `handler`,
    /// starting with `resync` each time it (re)connects; reconnects with backoff when the
    /// connection drops.
    func listen(_ handler: @escaping @Sendable (StoreEvent) -> Void) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: try location.connectionConfiguration(), id: 0, logger: logger)
                do {
                    try await connection.listen(on: StoreNotification.channel) { notifications in
                        // Writes made before this connection listened (at start: between reading
                        // the queue and now; later: while it was lost) were not heard.
                        handler(.resync)
                        delay = .milliseconds(100)
                        for try await notification in notifications {
                            if let event = try await event(from: notification.payload) { handler(event) }
                        }
                    }
                    try? await connection.close()
                } catch {
                    try? await connection.close()
                    throw error
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("lost the database's notifications; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func event(from payload: String) async throws -> StoreEvent? {
        if payload.hasPrefix("queued {") {
            guard let notice = try? RecordCoding.jsonDecoder.decode(QueuedNotice.self, from: Data(payload.utf8.dropFirst(7))) else {
                logger.warning("ignored a malformed notification", metadata: ["payload": "\(payload.prefix(200))"])
                return nil
            }
            return .queued(notice.summary, attempts: notice.attempts)
        }
        let words = payload.split(separator: " ").map(String.init)
        switch (words.first, words.count) {
        case ("queued", 2):
            // The placement columns, read now: the job may have left the queue meanwhile.
            let summaries = try await client.withConnection { db in
                try await db.all(QueuedRow.self, """
                    SELECT id, priority, created_at, target, project_id, submitted_by, requested_worker, labels, attempts FROM jobs
                    WHERE id = \(words[1]) AND status = 'queued'
                    """, logger: logger)
            }
            return summaries.first.map { .queued($0.summary, attempts: $0.attempts ?? 0) }
        case ("dequeued", 2): return .dequeued(jobID: words[1])
        case ("finished", 2): return .finished(jobID: words[1])
        case ("cancelled", 4):
            guard let attempt = Int(words[2]) else { return nil }
            return .cancelled(jobID: words[1], attempt: attempt, workerID: words[3])
        case ("revoked", 3):
            switch words[1] {
            case "user": return .revoked(.user(words[2]))
            case "session": return .revoked(.session(words[2]))
            case "personal_token": return .revoked(.personalToken(words[2]))
            case "worker_token": return .revoked(.workerToken(words[2]))
            default: return nil
            }
        default:
            logger.warning("ignored an unknown notification", metadata: ["payload": "\(payload.prefix(200))"])
            return nil
        }
    }
}

/// The listening task of a store, started once.
final class EventListener: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?
    private let executor: ThreadPoolExecutor

    init(executor: ThreadPoolExecutor) {
        self.executor = executor
    }

    func start(store: PostgresStore, handler: @escaping @Sendable (StoreEvent) -> Void) {
        lock.withLock {
            guard task == nil else { return }
            task = Task.detached(executorPreference: executor) { await store.listen(handler) }
        }
    }

    func stop() {
        lock.withLock {
            task?.cancel()
            task = nil
        }
    }
}

/// A queued job's placement, as `queued` notifications carry it.
struct QueuedNotice: Codable {
    let id: String
    let attempts: Int
    let priority: Int
    /// Milliseconds since 1970, as the store keeps times.
    let createdAt: Int64
    let target: JobTarget
    let projectID: String
    let submittedBy: String
    let requestedWorker: String?
    let labels: [String]

    var summary: QueuedJob {
        QueuedJob(
            id: id, priority: priority, createdAt: Date(timeIntervalSince1970: Double(createdAt) / 1000), target: target,
            projectID: projectID, submittedBy: submittedBy, requestedWorker: requestedWorker, labels: labels)
    }
}

import AgentOSWire
import Synchronization

/// The connected workers as last published by the bus thread, for API reads.
public final class WorkerDirectory: Sendable {
    private let snapshot = Mutex<[ConnectedWorker]>([])

    /// An empty directory.
    public init() {}

    /// Replaces the snapshot (bus thread).
    public func publish(_ workers: [ConnectedWorker]) {
        snapshot.withLock { $0 = workers }
    }

    /// How many workers of each kind were connected at the last publish.
    public var countsByKind: [WorkerKind: Int] {
        snapshot.withLock { workers in workers.reduce(into: [:]) { $0[$1.kind, default: 0] += 1 } }
    }

    /// The workers connected at the last publish, by name.
    public var workers: [ConnectedWorker] {
        snapshot.withLock { $0 }.sorted { ($0.name, $0.workerID) < ($1.name, $1.workerID) }
    }
}

import AgentOSStore
import Synchronization

/// Submits from concurrent requests, written together (group commit): while one transaction
/// commits, the submits that arrive meanwhile wait for the next one, which takes all of them.
/// A submit returns, and its 202 goes out, only once the transaction holding it has committed,
/// so every acknowledged job is durable; under load there are simply fewer, larger commits.
final class GroupedSubmits: Sendable {
    /// Most submits one transaction writes.
    static let maxBatch = 512

    private struct Waiting: Sendable {
        let job: Job
        let files: [JobFile]
        let continuation: CheckedContinuation<(job: Job, created: Bool), any Error>
    }

    private struct State: Sendable {
        var waiting: [Waiting] = []
        /// Whether a writer is committing batches now.
        var writing = false
    }

    private let store: any AppStore
    private let state = Mutex(State())

    init(store: any AppStore) {
        self.store = store
    }

    /// Persists a new queued job, as `AppStore.submit` does, in the next batch.
    func submit(_ job: Job, files: [JobFile]) async throws -> (job: Job, created: Bool) {
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = state.withLock { state in
                state.waiting.append(Waiting(job: job, files: files, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startWriter { Task { await self.writeWaiting() } }
        }
    }

    /// Commits batches until nobody waits.
    private func writeWaiting() async {
        while true {
            let batch = state.withLock { state in
                let batch = Array(state.waiting.prefix(Self.maxBatch))
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try await store.submitAll(batch.map { (job: $0.job, files: $0.files) })
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(with: outcome) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}

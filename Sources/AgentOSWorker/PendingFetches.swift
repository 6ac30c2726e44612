import AgentOSWire
import Synchronization

/// The jobs waiting for `FILE`s, by the request each waits for. A job's task registers here
/// and posts its `FETCH` to the socket's owner thread; the owner thread hands each answer (or
/// the news that none will come) back through `deliver` and `fail`. A waiting task that is
/// cancelled stops waiting at once.
final class PendingFetches: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var waiting: [FileChunk.Key: [UInt64: CheckedContinuation<FileChunk, any Error>]] = [:]
        /// Waits cancelled before they were registered: they end as soon as they are.
        var cancelled: Set<UInt64> = []
    }

    private let state = Mutex(State())

    /// Waits for the answer to `fetch`, which `send` (called once the wait is registered)
    /// asks for; throws `JobFileFetcher.Interrupted` when none will come, or
    /// `CancellationError`.
    func request(_ fetch: FileFetch, send: @Sendable () -> Void) async throws -> FileChunk {
        let key = fetch.key
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let registered = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return false }
                    state.waiting[key, default: [:]][id] = continuation
                    return true
                }
                guard registered else { return continuation.resume(throwing: CancellationError()) }
                send()
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<FileChunk, any Error>? in
                guard let continuation = state.waiting[key]?.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil
                }
                if state.waiting[key]?.isEmpty == true { state.waiting[key] = nil }
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// The answer to every wait for `chunk.key` (none is fine: its job stopped waiting).
    func deliver(_ chunk: FileChunk) {
        for continuation in take(chunk.key) { continuation.resume(returning: chunk) }
    }

    /// No answer will come for `key`.
    func fail(_ key: FileChunk.Key, _ reason: String) {
        for continuation in take(key) { continuation.resume(throwing: JobFileFetcher.Interrupted(reason)) }
    }

    /// No answer will come for anything (the worker is stopping).
    func failAll(_ reason: String) {
        let all = state.withLock { state in
            defer { state.waiting = [:] }
            return state.waiting.values.flatMap(\.values)
        }
        for continuation in all { continuation.resume(throwing: JobFileFetcher.Interrupted(reason)) }
    }

    private func take(_ key: FileChunk.Key) -> [CheckedContinuation<FileChunk, any Error>] {
        state.withLock { state in state.waiting.removeValue(forKey: key).map { Array($0.values) } ?? [] }
    }
}

import Foundation
import Synchronization

/// Lets API requests wait for jobs to finish (`?wait=SECONDS`) or to change at all (new
/// live output, another status: `jobs.output`): the bus thread signals, waiting tasks
/// resume. It also holds the running jobs' live output (`live`).
public final class JobWatch: Sendable {
    private struct Waiter {
        /// Whether any change wakes it, or only the job's end.
        var anyChange = false
        var signaled = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    /// The output of running jobs so far.
    public let live: LiveOutput

    /// A registration made before the caller checks the job, so a finish in between is not missed.
    public struct Ticket: Sendable {
        /// The job listened for.
        public let jobID: String
        let id: UUID
    }

    private let waiters = Mutex<[String: [UUID: Waiter]]>([:])

    /// An empty watch over `live`.
    public init(live: LiveOutput = LiveOutput()) {
        self.live = live
    }

    /// Starts listening for `jobID` finishing, or, with `anyChange`, changing at all.
    public func register(_ jobID: String, anyChange: Bool = false) -> Ticket {
        let ticket = Ticket(jobID: jobID, id: UUID())
        waiters.withLock { $0[jobID, default: [:]][ticket.id] = Waiter(anyChange: anyChange) }
        return ticket
    }

    /// Wakes everyone waiting for `jobID`.
    public func finished(_ jobID: String) {
        wake(jobID, onlyAnyChange: false)
    }

    /// Wakes those waiting for any change of `jobID` (its output grew, or its status changed
    /// without ending). Cheap when nobody waits: one lock and one lookup.
    public func changed(_ jobID: String) {
        wake(jobID, onlyAnyChange: true)
    }

    private func wake(_ jobID: String, onlyAnyChange: Bool) {
        let continuations = waiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            guard var forJob = waiters[jobID] else { return [] }
            var taken: [CheckedContinuation<Void, Never>] = []
            for key in forJob.keys where !onlyAnyChange || forJob[key]?.anyChange == true {
                forJob[key]?.signaled = true
                if let continuation = forJob[key]?.continuation { taken.append(continuation) }
                forJob[key]?.continuation = nil
            }
            waiters[jobID] = forJob
            return taken
        }
        continuations.forEach { $0.resume() }
    }

    /// Waits until the ticket's job finished or `timeout` passed, then forgets the ticket.
    public func wait(_ ticket: Ticket, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.signal(ticket) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        forget(ticket)
    }

    /// Stops listening without waiting (the caller found the job already ended).
    public func forget(_ ticket: Ticket) {
        waiters.withLock { waiters in
            waiters[ticket.jobID]?[ticket.id] = nil
            if waiters[ticket.jobID]?.isEmpty == true { waiters[ticket.jobID] = nil }
        }
    }

    private func signal(_ ticket: Ticket) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiters.withLock { waiters -> Bool in
                    guard let waiter = waiters[ticket.jobID]?[ticket.id], !waiter.signaled, !Task.isCancelled else {
                        return true
                    }
                    waiters[ticket.jobID]?[ticket.id]?.continuation = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = waiters.withLock { waiters -> CheckedContinuation<Void, Never>? in
                defer { waiters[ticket.jobID]?[ticket.id]?.continuation = nil }
                return waiters[ticket.jobID]?[ticket.id]?.continuation
            }
            continuation?.resume()
        }
    }
}

import AgentOSStore
import ZeroMQ

/// All the API may tell the bus: new work, a cancelled run, a revoked credential. Nothing
/// else of the bus loop (hellos, shutdown) is reachable from a request handler.
protocol DispatchSignals: Sendable {
    /// A job was queued (its transaction committed): try to dispatch.
    func jobQueued(_ job: QueuedJob)
    /// A queued job was cancelled: it leaves the queue.
    func jobDequeued(jobID: String)
    /// A running job was cancelled: tell its worker to stop that attempt.
    func jobCancelled(jobID: String, workerID: String, attempt: Int)
    /// A credential was revoked or a user disabled: disconnect the workers using it.
    func revoke(_ revocation: Revocation)
}

extension SocketLoop: DispatchSignals where Driver == BusLoop {
    func jobQueued(_ job: QueuedJob) { post(.jobQueued(job)) }

    func jobDequeued(jobID: String) { post(.jobDequeued(jobID: jobID)) }

    func jobCancelled(jobID: String, workerID: String, attempt: Int) {
        post(.jobCancelled(jobID: jobID, workerID: workerID, attempt: attempt))
    }

    func revoke(_ revocation: Revocation) { post(.revoke(revocation)) }

    /// Hands the bus what a write to the shared store changed.
    func shared(_ event: StoreEvent) { post(.shared(event)) }
}

import ZeroMQ

/// All the API may tell the bus: new work, a cancelled run, a revoked credential. Nothing
/// else of the bus loop (hellos, shutdown) is reachable from a request handler.
protocol DispatchSignals: Sendable {
    /// A job was queued: try to dispatch.
    func jobQueued()
    /// A running job was cancelled: tell its worker to stop that attempt.
    func jobCancelled(jobID: String, workerID: String, attempt: Int)
    /// A credential was revoked or a user disabled: disconnect the workers using it.
    func revoke(_ revocation: Revocation)
}

extension SocketLoop: DispatchSignals where Driver == BusLoop {
    func jobQueued() { post(.jobQueued) }

    func jobCancelled(jobID: String, workerID: String, attempt: Int) {
        post(.jobCancelled(jobID: jobID, workerID: workerID, attempt: attempt))
    }

    func revoke(_ revocation: Revocation) { post(.revoke(revocation)) }
}

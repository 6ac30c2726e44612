import AgentOSAuth
import AgentOSStore
import AgentOSWire

/// Checks a worker's `HELLO` credential: a live cloud worker token (whose labels, when it
/// pins some, must cover the worker's), or a user's access or personal token for a private
/// worker. The credential is remembered, so revoking it disconnects the worker.
enum WorkerAuthentication {
    static func check(_ hello: Hello, store: any AppStore, authenticator: Authenticator) async -> Result<WorkerPrincipal, Reject> {
        let denied = Reject(code: Reject.unauthorized, message: "the worker credential is missing, wrong or revoked")
        do {
            switch hello.kind {
            case .cloud:
                guard let secret = hello.credential.workerToken, let token = try store.liveWorkerToken(hash: SecretToken.hash(secret))
                else { return .failure(denied) }
                if let allowed = token.labels {
                    let extra = Set(hello.labels).subtracting(allowed)
                    guard extra.isEmpty else {
                        return .failure(Reject(code: Reject.unauthorized, message: "worker token \(token.name) does not allow the labels \(extra.sorted().joined(separator: ", "))"))
                    }
                }
                return .success(WorkerPrincipal(kind: .cloud, ownerID: nil, credential: .workerToken(token.id)))
            case .private:
                guard let caller = try await authenticator.caller(hello.credential.accessToken) else { return .failure(denied) }
                let credential: WorkerCredentialRef = switch caller.credential {
                case .session(let id): .session(id)
                case .personalToken(let id): .personalToken(id)
                }
                return .success(WorkerPrincipal(kind: .private, ownerID: caller.user.id, credential: credential))
            }
        } catch {
            // The server's own trouble, not the worker's: it should try again, not give up.
            return .failure(Reject(code: Reject.unavailable, message: "the server cannot check credentials right now: \(error)"))
        }
    }
}

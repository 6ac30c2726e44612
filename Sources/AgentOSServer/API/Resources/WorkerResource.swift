import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

/// The connected workers, the tokens cloud workers connect with, and where the bus is.
struct WorkerResource: APIResource {
    static let operations: [APIOperation] = [.listWorkers, .listWorkerTokens, .createWorkerToken, .deleteWorkerToken, .cluster]

    let context: APIContext
    let directory: WorkerDirectory
    let cluster: APIHandler.ClusterInfo
    let signals: any DispatchSignals

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listWorkers: return listWorkers(caller)
        case .listWorkerTokens: return try listWorkerTokens(caller)
        case .createWorkerToken: return try createWorkerToken(request, caller: caller)
        case .deleteWorkerToken: return try deleteWorkerToken(request, caller: caller)
        case .cluster: return clusterInfo()
        default: throw APIError.notFound("operation")
        }
    }

    // MARK: Worker tokens

    func listWorkerTokens(_ caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        return .ok(["worker_tokens": .array(try store.workerTokens().map(Representation.workerToken))])
    }

    func createWorkerToken(_ request: APICall, caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        let reader = try BodyReader(request.body)
        let name = try reader.string("name", maxLength: 100, required: true) ?? ""
        let labels = try reader.strings("labels", maxCount: 64, maxLength: 64)
        let secret = SecretToken.generate(prefix: "aow_")
        let token = try store.createWorkerToken(WorkerToken(name: name, tokenHash: SecretToken.hash(secret), labels: labels))
        audit("worker_token.create", caller: caller, target: token.id,
              detail: ["name": .string(name), "labels": labels.map { .array($0.map(JSONValue.string)) } ?? .null], address: request.client)
        var body = Representation.workerToken(token).objectValue ?? [:]
        body["token"] = .string(secret)
        return .created(.object(body))
    }

    func deleteWorkerToken(_ request: APICall, caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        guard let id = request.params["token"], try store.workerToken(id: id) != nil else { throw APIError.notFound("worker token") }
        if try store.revokeWorkerToken(id: id) {
            signals.revoke(.credential(.workerToken(id)))
            audit("worker_token.revoke", caller: caller, target: id, address: request.client)
        }
        return .noContent
    }

    // MARK: Workers

    func listWorkers(_ caller: Caller) -> Reply {
        let all = directory.workers
        let cloud = all.filter { $0.kind == .cloud }
        let visible = caller.isAdmin ? all : all.filter { $0.kind == .private && $0.ownerID == caller.user.id }
        return .ok([
            "workers": .array(visible.map(Representation.worker)),
            "cloud": [
                "workers": .number(Double(cloud.count)),
                "slots": .number(Double(cloud.reduce(0) { $0 + $1.slots })),
                "free_slots": .number(Double(cloud.reduce(0) { $0 + $1.freeSlots })),
            ],
        ])
    }


    /// What `GET /cluster` tells desktops.
    func clusterInfo() -> Reply {
        .ok([
            "bus": .array(cluster.busEndpoints.map(JSONValue.string)),
            "curve_public_key": cluster.curvePublicKey.map(JSONValue.string) ?? .null,
            "heartbeat_ms": .number(Double(cluster.heartbeatMS)),
            "server_version": .string(AgentOSVersion.current),
        ])
    }
}

import AgentOSAPI
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
        case .listWorkers: return try listWorkers(request, caller: caller)
        case .listWorkerTokens: return try listWorkerTokens(caller)
        case .createWorkerToken: return try createWorkerToken(request, caller: caller)
        case .deleteWorkerToken: return try deleteWorkerToken(request, caller: caller)
        case .cluster: return try clusterInfo()
        default: throw APIError.notFound("operation")
        }
    }

    // MARK: Worker tokens

    func listWorkerTokens(_ caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        return try .ok(Schemas.WorkerTokenList(workerTokens: try store.workerTokens().map { Schemas.WorkerToken($0) }))
    }

    func createWorkerToken(_ request: APICall, caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        let body = try request.body(Schemas.CreateWorkerTokenRequest.self)
        let name = try FieldRules.required(FieldRules.displayName(body.name, "name", maxLength: 100), "name", maxLength: 100)
        let labels = try FieldRules.strings(body.labels, "labels", maxCount: 64, maxLength: 64)
        let secret = SecretToken.generate(prefix: "aow_")
        let token = try store.createWorkerToken(WorkerToken(
            name: name, tokenHash: SecretToken.hash(secret), labels: labels, curveKey: BusKeys.publicKey(forCredential: secret)))
        audit("worker_token.create", caller: caller, target: token.id,
              detail: ["name": .string(name), "labels": labels.map { .array($0.map(JSONValue.string)) } ?? .null], address: request.client)
        return try .created(Schemas.WorkerToken(token, secret: secret))
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

    /// A page of the workers the caller may see, by id, after the id `cursor`.
    func listWorkers(_ request: APICall, caller: Caller) throws -> Reply {
        let limit = try pageLimit(request.params["limit"], fallback: 500, maximum: 1000)
        let cursor = request.params["cursor"]
        let all = directory.workers
        let cloud = all.filter { $0.kind == .cloud }
        var visible = caller.isAdmin ? all : all.filter { $0.kind == .private && $0.ownerID == caller.user.id }
        if let cursor { visible = visible.filter { $0.workerID > cursor } }
        let page = Array(visible.sorted { $0.workerID < $1.workerID }.prefix(limit))
        return try .ok(Schemas.WorkerList(
            workers: page.map(Schemas.Worker.init),
            cloud: Schemas.CloudCapacity(
                workers: cloud.count, slots: cloud.reduce(0) { $0 + $1.slots }, freeSlots: cloud.reduce(0) { $0 + $1.freeSlots }),
            nextCursor: visible.count > limit ? page.last?.workerID : nil))
    }

    /// What `GET /cluster` tells desktops.
    func clusterInfo() throws -> Reply {
        // This server's bus first, then the others sharing its store.
        var endpoints = cluster.busEndpoints
        for endpoint in try cluster.peers?() ?? [] where !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        return try .ok(Schemas.Cluster(
            bus: endpoints, curvePublicKey: cluster.curvePublicKey, heartbeatMS: cluster.heartbeatMS,
            serverVersion: AgentOSVersion.current))
    }
}

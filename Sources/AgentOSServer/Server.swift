import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import ServiceLifecycle
import ZeroMQ

/// `agentos server`: the control plane. Opens the data directory, binds the bus and the API
/// socket (each owned by its own thread) and runs until graceful shutdown.
public struct Server: Service {
    private let configuration: ServerConfiguration
    private let logger: Logger

    /// A server with this configuration.
    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let state = try ServerBootstrap.prepare(configuration, logger: logger)
        let store = state.store
        let tokens = await AccessTokens(secret: state.signingKey, lifetime: configuration.accessTokenLifetime)
        let watch = JobWatch()
        let directory = WorkerDirectory()
        let context = try Context()
        let dispatcher = Dispatcher(
            store: store, settings: configuration.dispatch, logger: logger,
            jobFinished: { watch.finished($0.id) })
        let bus = try BusLoop(
            context: context, endpoint: configuration.busEndpoint, dispatcher: dispatcher, directory: directory,
            tickInterval: min(0.25, configuration.dispatch.heartbeatInterval / 2),
            authenticate: { hello in await WorkerAuthentication.check(hello, store: store, tokens: tokens) },
            logger: logger)
        let busEndpoint = bus.boundEndpoint
        let handler = APIHandler(
            store: store, tokens: tokens, passwords: Passwords(cost: configuration.bcryptCost), watch: watch,
            directory: directory,
            cluster: .init(
                busEndpoints: [configuration.advertisedBusEndpoint ?? busEndpoint], curvePublicKey: nil,
                heartbeatMS: Int(configuration.dispatch.heartbeatInterval * 1000)),
            busEvents: { bus.post($0) }, logger: logger)
        let api = try APILoop(context: context, endpoint: configuration.apiEndpoint, handler: handler, logger: logger)

        // Read before the owner threads start: after that only they touch their sockets.
        let apiEndpoint = api.boundEndpoint
        let busThread = OwnerThread(name: "agentos-bus") { bus.run() }
        let apiThread = OwnerThread(name: "agentos-api") { api.run() }
        logger.notice("server ready", metadata: [
            "bus": "\(busEndpoint)", "api": "\(apiEndpoint)", "data": "\(configuration.dataDirectory)",
        ])

        try? await gracefulShutdown()
        logger.notice("server stopping")
        api.stop()
        bus.post(.stop)
        await apiThread.join()
        await busThread.join()
    }
}

/// Checks a worker's `HELLO` credential.
enum WorkerAuthentication {
    static func check(_ hello: Hello, store: AppStore, tokens: AccessTokens) async -> Result<WorkerPrincipal, Reject> {
        let denied = Reject(code: Reject.unauthorized, message: "the worker credential is missing, wrong or revoked")
        do {
            switch hello.kind {
            case .cloud:
                guard let secret = hello.credential.workerToken, try store.liveWorkerToken(hash: SecretToken.hash(secret)) != nil
                else { return .failure(denied) }
                return .success(WorkerPrincipal(kind: .cloud, ownerID: nil))
            case .private:
                guard let token = hello.credential.accessToken, let userID = await tokens.verify(token),
                    let user = try store.user(id: userID), !user.disabled
                else { return .failure(denied) }
                return .success(WorkerPrincipal(kind: .private, ownerID: user.id))
            }
        } catch {
            // The server's own trouble, not the worker's: it should try again, not give up.
            return .failure(Reject(code: Reject.unavailable, message: "the server cannot check credentials right now: \(error)"))
        }
    }
}

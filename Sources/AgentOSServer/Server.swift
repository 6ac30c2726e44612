import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import CMalloc
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
        // Messages of up to 16 MiB (bus) and 64 MiB (API socket) are buffered whole by libzmq,
        // from any peer, before the server can look at them. glibc would serve such buffers
        // from the heap once its mmap threshold has grown, and keep that memory after they are
        // freed; a fixed threshold gives every buffer of 256 KiB or more its own mapping, which
        // goes back to the system as soon as the message is dropped or handled.
        mallopt(M_MMAP_THRESHOLD, 256 << 10)
        let state = try ServerBootstrap.prepare(configuration, logger: logger)
        let store = state.store
        let tokens = await AccessTokens(secret: state.signingKey, lifetime: configuration.accessTokenLifetime)
        let fileTokens = JobFileTokens(secret: state.signingKey)
        let authenticator = Authenticator(store: store, tokens: tokens, fileTokens: fileTokens)
        let watch = JobWatch()
        let directory = WorkerDirectory()
        let context = try Context()
        let busCurve = configuration.usesCurve(configuration.busEndpoint)
        let apiCurve = configuration.usesCurve(configuration.apiEndpoint)
        // Bound before the sockets it guards, so no handshake can come before it.
        let zapLoop = try SocketLoop(
            name: "agentos-zap",
            driver: ZAPHandler(context: context, store: store, gatewayKeys: [state.gatewayKey], logger: logger))
        let queueCounts = QueueCounts()
        let metrics = ServerMetrics(queueCounts: queueCounts, directory: directory)
        let dispatcher = try Dispatcher(
            store: store, settings: configuration.dispatch, logger: logger, fileTokens: fileTokens, queueCounts: queueCounts,
            workersOnlineBefore: state.workersOnlineBefore, watch: watch, metrics: metrics, jobFinished: { finished in
                watch.finished(finished.id)
                metrics.jobFinished(finished.status)
            })
        let blobs = try DirectoryBlobStore.serving(store, directory: configuration.blobsPath)
        // Job files are read for FETCH on threads of their own (SQLite and disk reads block).
        let fileReaders = ThreadPoolExecutor(threads: 2, name: "agentos-file-reader")
        defer { fileReaders.shutdown() }
        let bus = try BusLoop(
            context: context, endpoint: configuration.busEndpoint, dispatcher: dispatcher, directory: directory,
            tickInterval: min(0.25, configuration.dispatch.heartbeatInterval / 2),
            authenticate: { hello in await WorkerAuthentication.check(hello, store: store, authenticator: authenticator) },
            files: JobFileReader(store: store, blobs: blobs, logger: logger), fileExecutor: fileReaders,
            curveSecretKey: busCurve ? state.curveKeys.secretKey : nil, logger: logger)
        // Read before the loops start: after that only their owner threads touch the sockets.
        let busEndpoint = bus.boundEndpoint
        let busLoop = try SocketLoop(name: "agentos-bus", driver: bus)
        let shared = store as? any SharedStore
        let leaseSeconds = configuration.dispatch.leaseSeconds
        var peers: (@Sendable () throws -> [String])?
        if let shared {
            peers = { try shared.servers(heardWithin: leaseSeconds, at: Date()).map(\.busEndpoint) }
        }
        let handler = APIHandler(
            store: store, tokens: tokens, fileTokens: fileTokens, passwords: Passwords(cost: configuration.bcryptCost),
            secrets: SecretBox(key: state.secretKey), blobs: blobs, watch: watch,
            directory: directory,
            cluster: .init(
                busEndpoints: [configuration.advertisedBusEndpoint ?? busEndpoint], curvePublicKey: busCurve ? state.curveKeys.publicKey : nil,
                heartbeatMS: Int(configuration.dispatch.heartbeatInterval * 1000),
                // With a shared store, every live server's bus, so that workers can move between them.
                peers: peers),
            limits: configuration.apiLimits, queueCounts: queueCounts, signals: busLoop, metrics: metrics, logger: logger)
        // Enough threads that a few slow handlers (bcrypt at login) never hold up the rest.
        let handlerExecutor = ThreadPoolExecutor(threads: max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))
        defer { handlerExecutor.shutdown() }
        let api = try APILoop(
            context: context, endpoint: configuration.apiEndpoint, handler: handler, executor: handlerExecutor,
            curveSecretKey: apiCurve ? state.curveKeys.secretKey : nil, logger: logger)
        let apiEndpoint = api.boundEndpoint
        let apiLoop = try SocketLoop(name: "agentos-api", driver: api)
        if let shared {
            // Several servers may share this store: this one takes its place among them, and
            // hears what the others' writes change (and its own, which is harmless).
            let now = Date()
            try dispatcher.join(ClusterMembership(
                server: ServerRecord(
                    id: UUID().uuidString.lowercased(), busEndpoint: configuration.advertisedBusEndpoint ?? busEndpoint,
                    apiEndpoint: apiEndpoint, startedAt: now, heartbeatAt: now),
                leaseSeconds: leaseSeconds), now: now)
            shared.startEvents { event in
                if case .finished(let jobID) = event { watch.finished(jobID) }
                busLoop.shared(event)
            }
        }
        defer { shared?.stopEvents() }
        // What a process on this machine needs to join (scripts/scale-workers reads it), written
        // before "server ready" so whoever waits for that line finds it.
        try? APICoding.encode(Schemas.Cluster(
            bus: [busEndpoint], curvePublicKey: busCurve ? state.curveKeys.publicKey : nil,
            heartbeatMS: Int(configuration.dispatch.heartbeatInterval * 1000), serverVersion: AgentOSVersion.current
        )).write(to: URL(fileURLWithPath: configuration.clusterFilePath), options: .atomic)
        logger.notice("server ready", metadata: [
            "bus": "\(busEndpoint)", "api": "\(apiEndpoint)", "data": "\(configuration.dataDirectory)",
            "bus_security": "\(busCurve ? "curve" : "plaintext")", "api_security": "\(apiCurve ? "curve" : "plaintext")",
            "server_key": "\(state.curveKeys.publicKey)",
        ])
        if configuration.advertisedBusEndpoint == nil, Endpoint.wildcardPort(busEndpoint) != nil {
            logger.notice("the bus listens on every interface; GET /cluster names it as bound, and desktops reach it at their gateway's host (--advertise-bus names another address)")
        }
        for (name, endpoint, curve) in [("bus", busEndpoint, busCurve), ("api", apiEndpoint, apiCurve)] where !curve && !Endpoint.isLocal(endpoint) {
            logger.warning("this socket listens beyond loopback in plain TCP (--insecure-plaintext-bus): no encryption, peers unchecked at the handshake", metadata: [
                "socket": "\(name)", "endpoint": "\(endpoint)",
            ])
        }

        // Shut down in reverse order: the API drains first, then the bus stops. Either loop
        // ending on its own ends the group, and the process with it.
        // The ZAP handler stops last: the sockets it guards close before it.
        let loops = ServiceGroup(configuration: .init(
            services: [.init(service: zapLoop), .init(service: busLoop), .init(service: apiLoop)], logger: logger))
        try await withGracefulShutdownHandler {
            try await loops.run()
        } onGracefulShutdown: {
            logger.notice("server stopping")
        }
    }
}

import AgentOSClient
import AgentOSSandbox
import AgentOSWire
import AgentOSWorker
import Foundation
import Logging

/// `agentos desktop attach`: turns this machine into the logged-in user's private worker.
public enum DesktopAttach {
    /// Finds the bus through the gateway (`GET /cluster`) and prepares a private worker
    /// authenticated as the stored user.
    public static func makeWorker(
        credentials: Credentials, configDirectory: ConfigDirectory, name: String?, slots: Int?,
        engine: any JobEngine, logger: Logger
    ) async throws -> WorkerAgent {
        if credentials.expiresAt <= Date() {
            throw ClientError.io("your login expired at \(credentials.expiresAt); run `agentos login` again")
        }
        let cluster = try await GatewayClient(credentials: credentials).send("GET", "/api/v1/cluster")
        guard let endpoint = cluster["bus"]?.arrayValue?.first?.stringValue else {
            throw ClientError.io("the gateway did not say where the job bus is")
        }
        var configuration = WorkerConfiguration(
            serverEndpoint: endpoint, kind: .private, credential: WorkerCredential(accessToken: credentials.accessToken))
        configuration.workerID = try configDirectory.desktopWorkerID()
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "desktop"
        configuration.name = name ?? "\(host)-desktop"
        if let slots { configuration.slots = slots }
        logger.info("attaching as a private worker", metadata: [
            "user": "\(credentials.email)", "bus": "\(endpoint)", "name": "\(configuration.name)",
        ])
        return try WorkerAgent(configuration: configuration, engine: engine, logger: logger)
    }
}

import AgentOSWire
import Foundation
import ZeroMQ

/// Everything a worker connection needs: where, who, and what it offers.
public struct WorkerConfiguration: Sendable {
    /// The server's bus endpoint.
    public var serverEndpoint: String
    /// Cloud (worker token) or private (user access token).
    public var kind: WorkerKind
    /// The credential sent in `HELLO`.
    public var credential: WorkerCredential
    /// When set, asked for the credential before each `HELLO` (a desktop's access token is
    /// refreshed while it runs).
    public var credentialSource: (@Sendable () -> WorkerCredential)?
    /// CURVE for the bus: the server's key and this worker's pair (derived from its
    /// credential); nil for a plain TCP bus (loopback).
    public var curve: CurveClient?
    /// Jobs run at once.
    public var slots: Int
    /// Labels advertised.
    public var labels: [String]
    /// Name shown in listings.
    public var name: String
    /// Stable id of this worker process.
    public var workerID: String
    /// How long a shutdown waits for running jobs before handing them back.
    public var drainTimeout: TimeInterval
    /// Longest wait between reconnect attempts.
    public var maxReconnectDelay: TimeInterval
    /// How much is added to each wait for a `WELCOME` by chance, from 0 (nothing) to 1: a
    /// wait of `w` becomes a random one between `w` and `w × (1 + helloJitter)`, so workers
    /// that lost the server together do not all come back in the same instant.
    public var helloJitter: Double

    /// A configuration with defaults for everything but the endpoint and credential.
    public init(serverEndpoint: String, kind: WorkerKind, credential: WorkerCredential) {
        self.serverEndpoint = serverEndpoint
        self.kind = kind
        self.credential = credential
        self.slots = max(1, ProcessInfo.processInfo.activeProcessorCount)
        self.labels = []
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        self.name = "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
        self.workerID = UUID().uuidString.lowercased()
        self.drainTimeout = 30
        self.maxReconnectDelay = 30
        self.helloJitter = 0.5
    }
}

/// Why a worker stopped for good.
public struct WorkerStopped: Error, CustomStringConvertible, Sendable {
    /// The server's reason.
    public let description: String
}

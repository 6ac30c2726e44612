import AgentOSSandbox
import AgentOSWire
import Foundation
import ZeroMQ

/// Everything a worker connection needs: where, who, and what it offers.
public struct WorkerConfiguration: Sendable {
    /// The bus endpoints of the servers, tried in turn: the worker moves to the next when its
    /// server goes silent or does not welcome it (several servers sharing one store).
    public var serverEndpoints: [String]
    /// The first server's bus endpoint.
    public var serverEndpoint: String {
        get { serverEndpoints[0] }
        set { serverEndpoints[0] = newValue }
    }
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
    /// Host folders a private worker (a desktop's `--dir`) shares with its user's jobs: each
    /// job sees only those it names, at `/mnt/<name>`. A cloud worker shares none.
    public var folders: [SharedFolder]
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
        self.serverEndpoints = [serverEndpoint]
        self.kind = kind
        self.credential = credential
        self.slots = max(1, ProcessInfo.processInfo.activeProcessorCount)
        self.labels = []
        self.folders = []
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        self.name = "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
        self.workerID = UUID().uuidString.lowercased()
        self.drainTimeout = 30
        self.maxReconnectDelay = 30
        self.helloJitter = 0.5
    }
}

extension WorkerConfiguration {
    /// The shared folders `job` names, in its order, and no others: a job sees only the
    /// folders it asks for. Throws, worded for the job's `error`, when it names a folder this
    /// worker does not share.
    public func folders(for job: JobAssignment) throws(FolderNotShared) -> [SharedFolder] {
        var named: [SharedFolder] = []
        var missing: [String] = []
        for name in job.dirs {
            if let folder = folders.first(where: { $0.name == name }) { named.append(folder) } else { missing.append(name) }
        }
        guard missing.isEmpty else { throw FolderNotShared(missing: missing, shared: folders.map(\.name), kind: kind) }
        return named
    }
}

/// A job names folders its worker does not share, so it fails without running (its code
/// would otherwise look for them at `/mnt` and find nothing).
public struct FolderNotShared: Error, Equatable, CustomStringConvertible {
    /// The names the job asked for that are not shared.
    public let missing: [String]
    /// The names the worker shares.
    public let shared: [String]
    /// The worker's kind: only a desktop (private) can share folders.
    public let kind: WorkerKind

    /// The job's `error`: `folder_not_shared: …`, with what is shared and how to share more.
    public var description: String {
        let names = missing.map { "\"\($0)\"" }.joined(separator: ", ")
        guard kind == .private else {
            return "folder_not_shared: a cloud worker shares no folders (\(names)); a job that names dirs runs on its user's desktop, with target \"private\""
        }
        let sharing = shared.isEmpty ? "it shares none" : "it shares: " + shared.sorted().joined(separator: ", ")
        return "folder_not_shared: this desktop shares no folder named \(names) (\(sharing)); "
            + "start agentos desktop attach --dir PATH to share \(missing.count == 1 ? "it" : "them")"
    }
}

/// Why a worker stopped for good.
public struct WorkerStopped: Error, CustomStringConvertible, Sendable {
    /// The server's reason.
    public let description: String
}

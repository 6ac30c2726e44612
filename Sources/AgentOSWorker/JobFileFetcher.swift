import AgentOSAuth
import AgentOSClient
import AgentOSWire
import Foundation

/// Fetches a job's files from the gateway with the job's file token into a staging
/// directory, checking each against its SHA-256, before the engine runs the job.
public struct JobFileFetcher: Sendable {
    /// Why the files could not be had; the job fails with `files_unavailable`.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The gateway's base URL.
    public let gateway: URL
    /// Where staging directories are made.
    public let stagingRoot: String

    public init(gateway: URL, stagingRoot: String = NSTemporaryDirectory()) {
        self.gateway = gateway
        self.stagingRoot = stagingRoot
    }

    /// A new directory holding every file of `job` under its name.
    public func fetch(_ job: JobAssignment) async throws -> String {
        guard let token = job.fileToken else { throw Failure(description: "the job lists files but came without a file token") }
        let directory = (stagingRoot as NSString).appendingPathComponent("agentos-files-\(UUID().uuidString.lowercased())")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let client = GatewayClient(baseURL: gateway, token: token)
        do {
            for file in job.files {
                // Names come from the server, which checked them; refuse anything that is not plain anyway.
                guard !file.name.isEmpty, !file.name.contains("/"), file.name != ".", file.name != ".." else {
                    throw Failure(description: "file name \(file.name) is not a plain name")
                }
                let data = try await client.download("/api/v1/files/\(file.id)/content")
                guard ContentHash.sha256Hex(data) == file.sha256 else {
                    throw Failure(description: "file \(file.name) did not match its SHA-256")
                }
                try data.write(to: URL(fileURLWithPath: directory + "/" + file.name))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            if let failure = error as? Failure { throw failure }
            throw Failure(description: "could not fetch the job's files: \(error)")
        }
        return directory
    }
}

import AgentOSAuth
import AgentOSWire
import Foundation
import Testing

/// Job files reach workers over the bus alone: a worker started with nothing but the bus
/// endpoint and a token (SPEC §2), and a desktop, get every file of a job, whole and checked,
/// and a job whose file's bytes the server has lost fails `files_unavailable`.
@Suite struct JobFilesTests {
    /// Bytes that differ from chunk to chunk, so a chunk put back in the wrong place shows.
    static func pattern(_ count: Int, seed: UInt8) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8 &+ Int(seed)) })
    }

    /// The code of a job that reports each of its files' size and SHA-256.
    static let digests = """
        import hashlib, os
        def main():
            return {name: [os.path.getsize("files/" + name), hashlib.sha256(open("files/" + name, "rb").read()).hexdigest()]
                    for name in sorted(os.listdir("files"))}
        """

    @Test func aWorkerWithOnlyTheBusGetsLargeAndManyFiles() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        // Exactly as SPEC §2 shows: the bus endpoint and a token, no gateway.
        try cluster.start("w1", [
            "worker", "--server", cluster.busEndpoint, "--token-file", cluster.dataDirectory + "/worker-token", "--name", "w1",
            "--slots", "2", "--cache", cluster.sandboxCache, "--warm-pool", "0",
        ])
        try await cluster.waitForWorkers(["w1"], token: admin)

        // 1 MiB and a bit: five chunks, the last a short one.
        let large = Self.pattern((1 << 20) + 12_345, seed: 7)
        let (status, file) = try await cluster.upload("/api/v1/projects/default/files?name=large.bin", data: large, token: admin)
        #expect(status == 201, "\(file)")
        let started = Date()
        let (runStatus, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": .string(Self.digests), "files": [file["id"] ?? .null]], token: admin)
        #expect(runStatus == 200, "\(job)")
        #expect(job["status"] == "succeeded", "\(job)\n\(cluster.log("w1").suffix(2000))")
        #expect(job["result"]?["large.bin"] == [.number(Double(large.count)), .string(ContentHash.sha256Hex(large))], "\(job)")
        print("a job with a \(large.count)-byte file ran in \(Int(Date().timeIntervalSince(started) * 1000)) ms end to end")

        // Several files at once, an empty one among them.
        var ids: [JSONValue] = []
        var expected: [String: JSONValue] = [:]
        for (index, size) in [0, 1, 300_000, 70_000].enumerated() {
            let data = Self.pattern(size, seed: UInt8(index))
            let name = "part-\(index).dat"
            let (status, file) = try await cluster.upload("/api/v1/projects/default/files?name=\(name)", data: data, token: admin)
            #expect(status == 201, "\(file)")
            ids.append(file["id"] ?? .null)
            expected[name] = [.number(Double(size)), .string(ContentHash.sha256Hex(data))]
        }
        let (manyStatus, many) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": .string(Self.digests), "files": .array(ids)], token: admin)
        #expect(manyStatus == 200, "\(many)")
        #expect(many["status"] == "succeeded", "\(many)")
        #expect(many["result"] == .object(expected), "\(many)")
        #expect(!cluster.log("w1").contains("files_unavailable"))
    }

    @Test func aLostBlobFailsTheJobAndADesktopGetsFilesToo() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot(workers: ["w1": 1])

        let data = Self.pattern(600_000, seed: 3)
        let (status, file) = try await cluster.upload("/api/v1/projects/default/files?name=gone.bin", data: data, token: admin)
        #expect(status == 201, "\(file)")
        let sha256 = ContentHash.sha256Hex(data)
        try FileManager.default.removeItem(atPath: "\(cluster.dataDirectory)/blobs/\(sha256.prefix(2))/\(sha256)")
        let (runStatus, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": .string(Self.digests), "files": [file["id"] ?? .null]], token: admin)
        #expect(runStatus == 200, "\(job)")
        #expect(job["status"] == "failed", "\(job)")
        let error = job["error"]?.stringValue ?? ""
        #expect(error.hasPrefix("files_unavailable: ") && error.contains("blob_missing"), "\(job)")
        #expect(job["exit_code"] == nil || job["exit_code"] == .null, "\(job)")

        // A desktop attached as the admin: its private job's file comes over the bus too.
        try await cluster.attachDesktop("desk", email: "admin@localhost", password: cluster.adminPassword)
        try await cluster.waitForWorkers(["desk"], token: admin)
        let kept = Self.pattern(300_000, seed: 9)
        let (keptStatus, keptFile) = try await cluster.upload("/api/v1/projects/default/files?name=kept.bin", data: kept, token: admin)
        #expect(keptStatus == 201, "\(keptFile)")
        let (privateStatus, privateJob) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60",
            body: ["code": .string(Self.digests), "files": [keptFile["id"] ?? .null], "target": "private"], token: admin)
        #expect(privateStatus == 200, "\(privateJob)")
        #expect(privateJob["status"] == "succeeded", "\(privateJob)\n\(cluster.log("desk").suffix(2000))")
        #expect(privateJob["worker"] == "desk", "\(privateJob)")
        #expect(privateJob["result"]?["kept.bin"] == [.number(Double(kept.count)), .string(ContentHash.sha256Hex(kept))], "\(privateJob)")
    }
}

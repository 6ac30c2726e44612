import AgentOSWire
import Foundation
import Testing

/// The minimal Python worker of docs/PROTOCOL.md §11, run as printed there against a real
/// server, plain and with CURVE: the document is enough to write a worker that works.
@Suite(.serialized, .enabled(if: PythonWithZMQ.path != nil, "needs /usr/bin/python3 with pyzmq (Debian's python3-zmq)"))
struct DocumentedWorkerTests {
    /// The Python code block of §11.
    static func documentedWorker() throws -> String {
        let document = try String(contentsOf: Cluster.repositoryRoot.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        let section = try #require(document.components(separatedBy: "## 11. Minimal Python worker").dropFirst().first)
        let block = try #require(section.components(separatedBy: "```python\n").dropFirst().first)
        return try #require(block.components(separatedBy: "\n```").first)
    }

    @Test(arguments: [false, true])
    func theDocumentedPythonWorkerRunsJobs(curve: Bool) async throws {
        let cluster = try Cluster()
        cluster.curve = curve
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        let script = cluster.directory.appendingPathComponent("worker.py").path
        try Data(try Self.documentedWorker().utf8).write(to: URL(fileURLWithPath: script))
        var environment = ["AGENTOS_DATA": cluster.dataDirectory, "AGENTOS_SERVER": cluster.busEndpoint]
        if curve { environment["AGENTOS_SERVER_KEY"] = cluster.serverKeyPath }
        try cluster.startCommand("python-worker", ["/usr/bin/env"] + environment.map { "\($0.key)=\($0.value)" } + [try #require(PythonWithZMQ.path), script])
        try await cluster.waitFor("the Python worker to register", timeout: 60) {
            let (_, body) = try await cluster.http("GET", "/api/v1/workers", token: admin)
            return body["workers"]?.arrayValue?.contains { $0["name"]?.stringValue?.hasPrefix("py-") == true } == true
        }
        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60",
            body: ["code": "def main(n):\n    print('hello from python')\n    return n + 1", "inputs": ["n": 41]], token: admin)
        #expect(status == 200 && job["result"] == 42, "\(job)\n\(cluster.log("python-worker"))")
        #expect(job["worker"]?.stringValue?.hasPrefix("py-") == true && job["stdout"] == "hello from python\n")
    }
}

/// The system's Python 3, if it has pyzmq with CURVE.
enum PythonWithZMQ {
    static let path: String? = {
        let path = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: path)
        check.arguments = ["-c", "import zmq; assert zmq.has('curve')"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return nil }
        check.waitUntilExit()
        return check.terminationStatus == 0 ? path : nil
    }()
}

import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The Next.js path (clients/typescript): its types are the served OpenAPI document's (the
/// generator gives the committed file again), it type-checks with `tsc --strict`, and the
/// example App Router route handler, run under Node against a real cluster, submits a job with
/// a service token, streams its events back and maps errors. Needs `node` and `tsc` (Debian's
/// `nodejs` and `node-typescript`, which scripts/test installs); nothing comes from npm.
@Suite struct TypeScriptClientTests {
    static let client = Cluster.repositoryRoot.appendingPathComponent("clients/typescript").path

    static func tool(_ name: String) throws -> String {
        let path = try #require(
            ["/usr/bin/" + name, "/usr/local/bin/" + name].first { FileManager.default.isExecutableFile(atPath: $0) },
            "\(name) is missing: apt-get install nodejs node-typescript (scripts/test does)")
        return path
    }

    /// Runs a command to its end with `environment` added; its status and output.
    func run(_ cluster: Cluster, _ name: String, _ command: [String], environment: [String: String] = [:]) async throws -> (Int32?, String) {
        var full = ProcessInfo.processInfo.environment
        for (key, value) in environment { full[key] = value }
        let process = try TestProcess(
            executable: command[0], arguments: Array(command.dropFirst()), environment: full,
            logPath: cluster.directory.appendingPathComponent("\(name).log").path)
        try await cluster.waitFor("\(name) to end", timeout: 180) { !process.isRunning }
        return (process.status, cluster.log(name))
    }

    @Test func theRouteHandlerSubmitsStreamsAndMapsErrors() async throws {
        let node = try Self.tool("node")
        let tsc = try Self.tool("tsc")
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot(workers: ["cloud-1": 1])
        try await cluster.waitForWorkers(["cloud-1"], token: admin)

        // 1. The committed types are what the generator makes of the served document.
        let (document, _) = try await URLSession.shared.data(from: URL(string: cluster.gatewayURL + "/api/v1/openapi.json")!)
        let documentPath = cluster.directory.appendingPathComponent("openapi.json").path
        try document.write(to: URL(fileURLWithPath: documentPath))
        let (generated, types) = try await run(cluster, "generate", [node, Self.client + "/scripts/generate.mjs", documentPath])
        #expect(generated == 0, "\(types)")
        let committed = try String(contentsOfFile: Self.client + "/src/api.ts", encoding: .utf8)
        #expect(types == committed, """
            clients/typescript/src/api.ts is not what the API document gives: regenerate it with \
            node clients/typescript/scripts/generate.mjs <(curl -s GATEWAY/api/v1/openapi.json) > clients/typescript/src/api.ts
            """)

        // 2. It type-checks (strict), and compiles to what Node runs.
        let out = cluster.directory.appendingPathComponent("ts").path
        let (checked, diagnostics) = try await run(cluster, "tsc", [tsc, "-p", Self.client + "/tsconfig.json", "--outDir", out])
        try #require(checked == 0, "tsc: \(diagnostics)")
        try Data(#"{"type": "module"}"#.utf8).write(to: URL(fileURLWithPath: out + "/package.json"))
        try Data("""
            const { POST } = await import("./examples/nextjs/app/api/jobs/route.js");
            const headers = { "content-type": "application/json" };
            if (process.argv[3] !== "anonymous") headers["x-user"] = "alice@example.com";
            const response = await POST(new Request("http://app.local/api/jobs", { method: "POST", headers, body: process.argv[2] }));
            console.log(JSON.stringify({ status: response.status, type: response.headers.get("content-type"),
              job: response.headers.get("x-job-id"), retry: response.headers.get("retry-after"), body: await response.text() }));
            """.utf8).write(to: URL(fileURLWithPath: out + "/run.mjs"))

        // A service account's personal access token, as the web app keeps it.
        let (created, token) = try await cluster.http("POST", "/api/v1/tokens", body: ["name": "web app"], token: admin)
        try #require(created == 201, "\(token)")
        let service = try #require(token["token"]?.stringValue)
        var calls = 0
        func post(_ body: String, token: String = service, gateway: String? = nil, user: Bool = true) async throws -> JSONValue {
            calls += 1
            let (status, output) = try await run(
                cluster, "route-\(calls)", [node, out + "/run.mjs", body, user ? "alice" : "anonymous"],
                environment: ["AGENTOS_GATEWAY": gateway ?? cluster.gatewayURL, "AGENTOS_SERVICE_TOKEN": token])
            #expect(status == 0, "\(output)")
            return try JSONValue.parse(Data((output.split(separator: "\n").last ?? "").utf8))
        }

        // 3. A job: its events come back as they happen, its output before its result.
        let code = "import time\ndef main(n):\n    for i in range(3):\n        print('line', i, flush=True)\n        time.sleep(0.3)\n    return n * 2"
        let request = JSONValue.object(["project": "default", "code": .string(code), "inputs": ["n": 21], "request_id": "r-1"]).encodedString()
        let streamed = try await post(request)
        #expect(streamed["status"] == 200 && streamed["type"] == "text/event-stream", "\(streamed)")
        let text = try #require(streamed["body"]?.stringValue)
        let events = text.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        #expect(events.first == "status" && events.last == "result", "\(events)")
        let firstOutput = try #require(text.range(of: "line 0"))
        let result = try #require(text.range(of: "event: result"))
        #expect(firstOutput.lowerBound < result.lowerBound)
        let resultData = try #require(text.split(separator: "\n").last { $0.hasPrefix("data: ") && $0.contains("\"result\"") })
        #expect(try JSONValue.parse(Data(resultData.dropFirst(6).utf8))["result"] == 42, "\(text)")
        let jobID = try #require(streamed["job"]?.stringValue)
        let job = try await cluster.job(jobID, token: admin)
        #expect(job["idempotency_key"] == "web:alice@example.com:r-1" && job["status"] == "succeeded", "\(job)")
        // The same request again is the same job, not a second one.
        #expect(try await post(request)["job"]?.stringValue == jobID)

        // 4. Errors: the user's pass through, the service's do not.
        let badInputs = try await post(#"{"project": "default", "code": "x", "skill": "s"}"#)
        #expect(badInputs["status"] == 400, "\(badInputs)")
        let notJSON = try await post("{")
        #expect(notJSON["status"] == 400 && notJSON["body"]?.stringValue?.contains("invalid_json") == true, "\(notJSON)")
        let noProject = try await post(#"{"project": "nope", "code": "def main(): return 1"}"#)
        #expect(noProject["status"] == 404 && noProject["body"]?.stringValue?.contains("not_found") == true, "\(noProject)")
        let anonymous = try await post(#"{"project": "default", "code": "def main(): return 1"}"#, user: false)
        #expect(anonymous["status"] == 401, "\(anonymous)")
        let badToken = try await post(#"{"project": "default", "code": "def main(): return 1"}"#, token: "aos_pat_not-a-real-token")
        #expect(badToken["status"] == 502 && badToken["body"]?.stringValue?.contains("service_unauthorized") == true, "\(badToken)")
        let unreachable = try await post(#"{"project": "default", "code": "def main(): return 1"}"#, gateway: "http://127.0.0.1:1")
        #expect(unreachable["status"] == 503, "\(unreachable)")
    }
}

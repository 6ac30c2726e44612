import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Live output end to end: a worker streams what a job prints, the server keeps it, and the
/// gateway's event stream pushes it to a client before the job has ended; a client that
/// reconnects with `Last-Event-ID` gets the rest, nothing twice.
@Suite(.serialized) struct LiveOutputStreamTests {
    /// Reads an event stream and prints each line as it arrives, so the test can watch it grow.
    static let sseClient = """
        import sys, urllib.request
        url, token = sys.argv[1], sys.argv[2]
        request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token, "Accept": "text/event-stream"})
        with urllib.request.urlopen(request, timeout=120) as response:
            for line in response:
                print(line.decode().rstrip("\\n"), flush=True)
        print("STREAM-CLOSED", flush=True)
        """

    @Test func anEventStreamDeliversALineBeforeTheJobEndsAndResumesFromItsLastEventID() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()
        try await cluster.startWorker("streamer", sandboxed: false)
        try await cluster.waitForWorkers(["streamer"], token: token)
        let waiting = cluster.codeWaiting(for: "go", returning: "done")
            .replacingOccurrences(of: "def main():\n", with: "def main():\n    print('first line', flush=True)\n")
            .replacingOccurrences(of: "    return \"done\"", with: "    print('second line', flush=True)\n    return \"done\"")
        let (status, submitted) = try await cluster.http("POST", "/api/v1/projects/default/jobs", body: ["code": .string(waiting)], token: token)
        #expect(status == 202, "\(submitted)")
        let id = try #require(submitted["id"]?.stringValue)
        let url = cluster.gatewayURL + "/api/v1/jobs/\(id)/events"
        try cluster.startPython("sse", Self.sseClient, arguments: [url, token])

        // The first line arrives while the job still waits for its flag.
        try await cluster.waitFor("the first line on the event stream", timeout: 60) { cluster.log("sse").contains("first line") }
        #expect(try await cluster.job(id, token: token)["status"] == "running")
        // GET /jobs/{id} shows the output so far, too.
        #expect(try await cluster.job(id, token: token)["stdout"] == "first line\n")
        let early = cluster.log("sse")
        #expect(!early.contains("second line") && !early.contains("event: result"), "\(early)")
        let outputID = try #require(Self.id(ofEventContaining: "first line", in: early), "\(early)")

        cluster.raise("go")
        #expect(try await cluster.waitForExit("sse", timeout: 60) == 0)
        let whole = cluster.log("sse")
        #expect(whole.contains("second line") && whole.contains("event: result") && whole.contains("STREAM-CLOSED"), "\(whole)")
        #expect(whole.components(separatedBy: "first line").count == 2, "the first line came once: \(whole)")
        let events = whole.split(separator: "\n").filter { $0.hasPrefix("event: ") }
        #expect(events.first == "event: status" && events.suffix(2) == ["event: output", "event: result"], "\(events)")
        #expect(whole.split(separator: "\n").filter { $0.hasPrefix("data: ") }.count
            == whole.split(separator: "\n").filter { $0.hasPrefix("id: ") }.count, "every event has an id")

        // Reconnecting after the first output event: the rest, without the first line again.
        var resume = URLRequest(url: URL(string: url)!, timeoutInterval: 60)
        resume.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        resume.setValue(outputID, forHTTPHeaderField: "Last-Event-ID")
        let (data, response) = try await URLSession.shared.data(for: resume)
        let rest = String(decoding: data, as: UTF8.self)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(rest.contains("second line") && !rest.contains("first line"), "\(rest)")
        #expect(rest.contains("event: result") && rest.contains("\"done\""), "\(rest)")
        // After the result there is nothing more: 204, so an EventSource stops reconnecting.
        let resultID = try #require(rest.split(separator: "\n").last { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) })
        resume.setValue(resultID, forHTTPHeaderField: "Last-Event-ID")
        let (_, ended) = try await URLSession.shared.data(for: resume)
        #expect((ended as? HTTPURLResponse)?.statusCode == 204)
    }

    @Test func jobsLogsFollowPrintsOutputAsItComes() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()
        try await cluster.startWorker("streamer", sandboxed: false)
        try await cluster.waitForWorkers(["streamer"], token: token)
        let (loginStatus, _) = try await cluster.cli(
            "login", ["login", "--gateway", cluster.gatewayURL, "--email", "admin@localhost"], config: "cli",
            environment: ["AGENTOS_PASSWORD": cluster.adminPassword])
        #expect(loginStatus == 0)
        let waiting = cluster.codeWaiting(for: "go", returning: "done")
            .replacingOccurrences(of: "def main():\n", with: "def main():\n    import sys\n    print('to stdout', flush=True)\n    print('to stderr', file=sys.stderr, flush=True)\n")
        let (_, submitted) = try await cluster.http("POST", "/api/v1/projects/default/jobs", body: ["code": .string(waiting)], token: token)
        let id = try #require(submitted["id"]?.stringValue)
        _ = try cluster.start("follow", ["jobs", "logs", id, "--follow"], environment: ["XDG_CONFIG_HOME": cluster.directory.appendingPathComponent("cli").path])
        try await cluster.waitFor("the followed output", timeout: 60) {
            cluster.log("follow").contains("to stdout") && cluster.log("follow").contains("to stderr")
        }
        #expect(try await cluster.job(id, token: token)["status"] == "running")
        cluster.raise("go")
        #expect(try await cluster.waitForExit("follow") == 0, "\(cluster.log("follow"))")
    }

    /// The `id:` of the event whose data contains `text`.
    static func id(ofEventContaining text: String, in stream: String) -> String? {
        var id: String?
        for line in stream.split(separator: "\n") {
            if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
            if line.hasPrefix("data: "), line.contains(text) { return id }
        }
        return nil
    }
}

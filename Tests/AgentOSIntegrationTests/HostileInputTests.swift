import AgentOSWire
import Foundation
import Testing
import ZeroMQ

/// Garbage on the bus, on the API socket and over HTTP gets a clear answer or is dropped,
/// and the server keeps serving.
@Suite(.serialized) struct HostileInputTests {
    func receive(_ socket: Socket) throws -> BusMessage? {
        guard let frames = try socket.receive() else { return nil }
        return try BusMessage(frames: frames[...])
    }

    @Test func garbageOnTheBusIsDroppedOrRejectedAndTheServerKeepsWorking() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()

        let context = try Context()
        let raw = try context.makeSocket(.dealer)
        defer { raw.close() }
        try raw.setLinger(0)
        try raw.setReceiveTimeout(3000)
        try raw.connect(cluster.busEndpoint)
        let tag = Array("AOS/1".utf8)
        let garbage: [[[UInt8]]] = [
            [], [[0xff]], [tag],
            [Array("NOPE".utf8), Array("HELLO".utf8), Array("{}".utf8)],
            [tag, Array("LAUNCH".utf8), Array("{}".utf8)],
            [tag, Array("RESULT".utf8), [0x00, 0x01, 0x02]],
            [tag, Array("HELLO".utf8), Array("{\"protocol\": \"one\"}".utf8)],
        ]
        for frames in garbage where !frames.isEmpty {
            _ = try raw.send(frames)
        }
        // A hello with the shape right but the wrong token is refused, not crashed on.
        let hello = Hello(
            workerID: "intruder", name: "intruder", version: "x", slots: 1, labels: [], runtimes: [], kind: .cloud,
            credential: WorkerCredential(workerToken: "aow_wrong"), running: [])
        try raw.send(BusMessage(.hello, hello).frames)
        var codes: [String] = []
        while let message = try receive(raw), message.command == .reject {
            codes.append(try message.decode(Reject.self).code)
            if codes.contains(Reject.unauthorized) { break }
        }
        #expect(codes.contains("bad_request"), "a malformed hello is answered bad_request")
        #expect(codes.contains(Reject.unauthorized))
        // A private hello with a forged access token is refused too.
        var forged = hello
        forged.kind = .private
        forged.credential = WorkerCredential(accessToken: token + "x")
        try raw.send(BusMessage(.hello, forged).frames)
        #expect(try receive(raw).map { try $0.decode(Reject.self).code } == Reject.unauthorized)

        // A message over the size limit only costs its sender the connection.
        let huge = try context.makeSocket(.dealer)
        defer { huge.close() }
        try huge.setLinger(0)
        try huge.connect(cluster.busEndpoint)
        try huge.send([Array("AOS/1".utf8), Array("HELLO".utf8), [UInt8](repeating: 0x20, count: Bus.maxMessageBytes + 1)])

        // Garbage on the API socket, too.
        let api = try context.makeSocket(.dealer)
        defer { api.close() }
        try api.setLinger(0)
        try api.setReceiveTimeout(3000)
        try api.connect(cluster.apiEndpoint)
        try api.send([Array(API.protocolTag.utf8), Array("{\"id\": 1".utf8), []])
        let reply = try #require(try api.receive())
        #expect(try APIResponse(frames: reply[...]).status == 400)

        try await cluster.startWorker("honest")
        try await cluster.waitForWorkers(["honest"], token: token)
        let (_, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 'still fine'"], token: token)
        #expect(job["result"] == "still fine")
    }

    @Test func badHTTPInputGetsClearErrors() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()
        let cases: [(String, JSONValue, String)] = [
            ("/api/v1/projects/default/jobs", ["code": "x", "inputs": [1, 2]], "inputs must be an object"),
            ("/api/v1/projects/default/jobs", ["code": "x", "inputs": ["not-an-identifier": 1]], "inputs.not-an-identifier"),
            ("/api/v1/projects/default/jobs", ["code": "x", "target": "moon"], "target"),
            ("/api/v1/projects/default/jobs", ["code": "x", "limits": ["timeout_s": -1]], "limits.timeout_s"),
            ("/api/v1/projects/default/jobs", ["code": "x", "max_attempts": 0], "max_attempts"),
            ("/api/v1/projects/default/jobs", ["code": "x", "labels": "gpu"], "labels"),
            ("/api/v1/projects/default/jobs", ["inputs": [:]], "exactly one of skill"),
            ("/api/v1/projects/default/jobs", ["code": "x", "skill": "y"], "exactly one of skill"),
            ("/api/v1/projects/default/jobs", "just a string", "JSON object"),
            ("/api/v1/projects/default/jobs?wait=-3", ["code": "x"], "wait"),
            ("/api/v1/projects/default/jobs?wait=abc", ["code": "x"], "wait"),
            ("/api/v1/auth/login", ["email": 5, "password": "x"], "email must be a string"),
        ]
        for (path, body, mention) in cases {
            let (status, answer) = try await cluster.http("POST", path, body: body, token: path.contains("login") ? nil : token)
            #expect(status == 400, "\(path) \(body) → \(status) \(answer)")
            #expect(answer["error"]?["code"] == "invalid_request")
            #expect(answer["error"]?["message"]?.stringValue?.contains(mention) == true, "\(answer)")
        }
    }

    @Test func sigtermDrainsAWorkerAndRequeuesWhatItCannotFinish() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()
        try await cluster.startWorker("quitter", slots: 2, sandboxed: false, extraArguments: ["--drain-timeout", "2"])
        try await cluster.waitForWorkers(["quitter"], token: token)

        let short = try #require(try await cluster.http(
            "POST", "/api/v1/projects/default/jobs", body: ["code": .string(cluster.codeWaiting(for: "short", returning: "short"))],
            token: token).1["id"]?.stringValue)
        let long = try #require(try await cluster.http(
            "POST", "/api/v1/projects/default/jobs", body: ["code": .string(cluster.codeWaiting(for: "finish", returning: "long"))],
            token: token).1["id"]?.stringValue)
        _ = try await cluster.waitForStatus(short, token: token) { $0 == "running" }
        _ = try await cluster.waitForStatus(long, token: token) { $0 == "running" }
        try await cluster.kill("quitter", signal: SIGTERM, wait: false)
        try await cluster.waitFor("the worker to drain") { cluster.log("quitter").contains("draining") }
        cluster.raise("short")
        #expect(try await cluster.waitForExit("quitter") == 0, "a drained worker exits cleanly")

        let finished = try await cluster.waitForStatus(short, token: token) { $0 == "succeeded" }
        #expect(finished["worker"] == "quitter", "a running job is finished while draining")
        // The goodbye may reach the server a moment after the worker has exited.
        let requeued = try await cluster.waitForStatus(long, token: token, timeout: 10) { $0 != "running" }
        #expect(requeued["status"] == "queued" && requeued["attempts"] == 1, "the unfinished run went back, its attempt counted: \(requeued)")
        let stopped = try #require(cluster.runPIDs(waitingFor: "finish").first)
        #expect(!Cluster.isAlive(stopped), "the worker stopped the run before it left")

        cluster.raise("finish")
        try await cluster.startWorker("heir", sandboxed: false)
        let done = try await cluster.waitForStatus(long, token: token) { $0 == "succeeded" }
        #expect(done["worker"] == "heir" && done["attempts"] == 2)
    }
}

import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The connection limits of `agentos gateway` and `agentos sandbox` as their options set them,
/// against real processes: slow clients are cut, long responses are not.
@Suite struct HTTPConnectionTests {
    /// Connects to 127.0.0.1:PORT, sends nothing, and prints how long the server took to close.
    static let silentClient = """
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        start = time.monotonic()
        data = s.recv(65536)
        print("closed after %.2f s with %d bytes" % (time.monotonic() - start, len(data)))
        """

    @Test func anEventStreamOutlivesTheIdleTimeoutThatClosesIdleConnections() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        // The silent connection below is closed at the header timeout, 5 s: the stream stays
        // silent that long, five idle timeouts.
        let token = try await cluster.boot(gatewayArguments: ["--idle-timeout", "1", "--header-timeout", "5"])
        try await cluster.startWorker("streamer", sandboxed: false)
        try await cluster.waitForWorkers(["streamer"], token: token)
        let (_, submitted) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs", body: ["code": .string(cluster.codeWaiting(for: "finish", returning: "done"))],
            token: token)
        let id = try #require(submitted["id"]?.stringValue)
        _ = try await cluster.waitForStatus(id, token: token) { $0 == "running" }

        var request = URLRequest(url: URL(string: cluster.gatewayURL + "/api/v1/jobs/\(id)/events")!, timeoutInterval: 120)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let stream = Task { try await URLSession.shared.data(for: request) }
        // An idle connection opened meanwhile is closed by the gateway's header timeout: that
        // much time has passed with the stream silent.
        try cluster.startPython("silent", Self.silentClient, arguments: [cluster.gatewayPort])
        #expect(try await cluster.waitForExit("silent") == 0)
        #expect(cluster.log("silent").contains("closed after") && cluster.log("silent").contains("with 0 bytes"), "\(cluster.log("silent"))")
        cluster.raise("finish")
        let (data, response) = try await stream.value
        let events = String(decoding: data, as: UTF8.self)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(events.contains("event: result") && events.contains("\"done\""), "the stream went on to the end: \(events)")
    }

    @Test func pythonsURLLibPosting64MiBGetsThe413() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        // A header timeout longer than urllib waits: no other deadline may rescue the exchange.
        let token = try await cluster.boot(gatewayArguments: ["--header-timeout", "60"])
        let script = """
            import json, sys, time, urllib.request, urllib.error
            url, token = sys.argv[1], sys.argv[2]
            request = urllib.request.Request(url + "/api/v1/projects/default/jobs", data=b"x" * (64 << 20), method="POST",
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
            start = time.monotonic()
            try:
                urllib.request.urlopen(request, timeout=30)
                print("no error")
            except urllib.error.HTTPError as error:
                print(error.code, json.load(error)["error"]["code"], "after %.1f s" % (time.monotonic() - start))
            except Exception as error:
                print("failed:", repr(error), "after %.1f s" % (time.monotonic() - start))
            """
        try cluster.startPython("urllib", script, arguments: [cluster.gatewayURL, token])
        _ = try await cluster.waitForExit("urllib", timeout: 120)
        #expect(cluster.log("urllib").hasPrefix("413 body_too_large"), "\(cluster.log("urllib"))")
    }

    @Test func theSandboxServiceHasTheSameProtections() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = "sandbox-test-token-0123456789"
        let base = try await SandboxServiceTests().startService(cluster, arguments: [
            "--listen", "127.0.0.1:0", "--token", token, "--insecure-no-sandbox", "--header-timeout", "3",
        ])
        let port = String(base.split(separator: ":").last ?? "")
        // A bad chunk size in the body is the client's fault: 400 with the contract's body.
        let badChunk = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"POST /execute HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer " + sys.argv[2].encode()
                      + b"\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nZZZ\\r\\n{}\\r\\n0\\r\\n\\r\\n")
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
            print(answer.split(b"\\r\\n")[0].decode(), answer.split(b"\\r\\n\\r\\n", 1)[1].decode())
            """
        try cluster.startPython("bad-chunk", badChunk, arguments: [port, token])
        #expect(try await cluster.waitForExit("bad-chunk") == 0)
        #expect(cluster.log("bad-chunk").hasPrefix("HTTP/1.1 400 "), "\(cluster.log("bad-chunk"))")
        #expect(cluster.log("bad-chunk").contains("\"code\":\"invalid_request\""))

        // --header-timeout reaches it.
        try cluster.startPython("silent", Self.silentClient, arguments: [port])
        #expect(try await cluster.waitForExit("silent") == 0)
        #expect(cluster.log("silent").contains("with 0 bytes"), "\(cluster.log("silent"))")

        // A body too large is answered 413 to a client that sends it all before reading.
        let large = """
            import json, sys, urllib.request, urllib.error
            request = urllib.request.Request(sys.argv[1] + "/execute", data=b"x" * (64 << 20), method="POST",
                headers={"Authorization": "Bearer " + sys.argv[2]})
            try:
                urllib.request.urlopen(request, timeout=30)
                print("no error")
            except urllib.error.HTTPError as error:
                print(error.code, json.load(error)["error"]["code"])
            except Exception as error:
                print("failed:", repr(error))
            """
        try cluster.startPython("urllib", large, arguments: [base, token])
        _ = try await cluster.waitForExit("urllib", timeout: 120)
        #expect(cluster.log("urllib").hasPrefix("413 body_too_large"), "\(cluster.log("urllib"))")
    }
}

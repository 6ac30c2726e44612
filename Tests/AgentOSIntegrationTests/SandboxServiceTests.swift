import AgentOSWire
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `agentos sandbox` as a user runs it: a real process on a kernel-chosen loopback port.
@Suite struct SandboxServiceTests {
    /// Starts the service and returns its base URL once it listens.
    func startService(_ cluster: Cluster, name: String = "sandbox", arguments: [String] = [], environment: [String: String] = [:]) async throws -> String {
        var environment = environment
        environment["XDG_CONFIG_HOME"] = environment["XDG_CONFIG_HOME"] ?? cluster.directory.appendingPathComponent("config").path
        try cluster.start(name, ["sandbox", "--cache", cluster.sandboxCache, "--warm-pool", "1"] + arguments, environment: environment)
        try await cluster.waitFor("the sandbox service to listen") { cluster.log(name).contains("listening on ") }
        let line = try #require(cluster.log(name).split(separator: "\n").first { $0.contains("listening on ") })
        return "http://" + (line.components(separatedBy: "listening on ").last ?? "").trimmingCharacters(in: .whitespaces)
    }

    func call(_ base: String, _ method: String, _ path: String, body: Data? = nil, token: String? = nil) async throws -> (Int, JSONValue, HTTPURLResponse?) {
        var request = URLRequest(url: URL(string: base + path)!, timeoutInterval: 60)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, (try? JSONValue.parse(data)) ?? .null, http)
    }

    func execute(_ base: String, _ fields: [String: JSONValue], token: String?) async throws -> (Int, JSONValue, HTTPURLResponse?) {
        try await call(base, "POST", "/execute", body: JSONValue.object(fields).encoded(), token: token)
    }

    @Test func tokenRequiredAndGeneratedPrivateOnLoopbackByDefault() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        // The default listen address (127.0.0.1:8090) may be taken on a shared machine: the
        // port comes from the kernel, the host is left to the default.
        let base = try await startService(cluster, environment: ["AGENTOS_LISTEN": "127.0.0.1:0"])
        #expect(base.hasPrefix("http://127.0.0.1:"))
        let port = try #require(Int(base.split(separator: ":").last ?? ""))
        #expect(Self.listeningAddresses(port: port) == ["127.0.0.1"], "bound to loopback only")

        let tokenPath = cluster.directory.appendingPathComponent("config/agentos/sandbox-token").path
        let attributes = try FileManager.default.attributesOfItem(atPath: tokenPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("aos_sbx_") && token.count > 40)
        #expect(!cluster.log("sandbox").contains(token), "the token is never logged")

        let (health, healthBody, _) = try await call(base, "GET", "/healthz")
        #expect(health == 200 && healthBody["sandbox"] == "bubblewrap")

        let job: [String: JSONValue] = ["code": "def main(x):\n    print('hi')\n    return x * 2", "inputs": ["x": 21]]
        for wrong in [nil, "", "wrong-token", token + "x", "aos_sbx_" + String(repeating: "A", count: 43)] {
            let (status, body, _) = try await execute(base, job, token: wrong)
            #expect(status == 401 && body["error"]?["code"] == "unauthorized", "\(wrong ?? "no token")")
        }
        let (status, body, _) = try await execute(base, job, token: token)
        #expect(status == 200)
        #expect(body["status"] == "succeeded" && body["result"] == 42 && body["stdout"] == "hi\n" && body["exit_code"] == 0, "\(body)")
        #expect(body["error"] == .null && (body["duration_ms"]?.intValue ?? -1) >= 0)

        // Bad input gets a clear 400, never a crash.
        let (bad, badBody, _) = try await call(base, "POST", "/execute", body: Data("{not json".utf8), token: token)
        #expect(bad == 400 && badBody["error"]?["code"] == "invalid_request")
        let (network, networkBody, _) = try await execute(base, ["code": "x = 1", "limits": ["network": true]], token: token)
        #expect(network == 403 && networkBody["error"]?["code"] == "network_not_allowed")
        let (requirement, requirementBody, _) = try await execute(base, ["code": "x = 1", "requirements": "--index-url http://10.1.2.3/ x"], token: token)
        #expect(requirement == 400, "\(requirementBody)")
        let (large, _, _) = try await call(base, "POST", "/execute", body: Data(count: 9 << 20), token: token)
        #expect(large == 413)
        // Jobs fail as jobs: 200 with the reason.
        let (_, timedOut, _) = try await execute(base, ["code": "while True:\n    pass", "limits": ["timeout_s": 1]], token: token)
        #expect(timedOut["status"] == "timed_out" && timedOut["error"]?.stringValue?.hasPrefix("timed_out") == true)

        // Restarted, it keeps its token.
        try await cluster.kill("sandbox", signal: SIGTERM)
        let again = try await startService(cluster, name: "sandbox-2", environment: ["AGENTOS_LISTEN": "127.0.0.1:0"])
        #expect(try await execute(again, job, token: token).0 == 200)
    }

    @Test func concurrencyLimitAnswers503() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = "given-token-\(UUID().uuidString)"
        let base = try await startService(cluster, arguments: ["--listen", "127.0.0.1:0", "--token", token, "--max-concurrent", "1", "--allow-network"])
        // The slow job runs until the test lets it go, however loaded the machine: it holds a
        // connection to the test open and returns when the test closes it.
        let holder = try ConnectionHolder()
        let slow = Task {
            try await execute(base, [
                "code": "import socket\ndef main(port):\n    socket.create_connection(('127.0.0.1', port)).recv(1)\n    return 'slow'",
                "inputs": ["port": .number(Double(holder.port))], "limits": ["network": true, "timeout_s": 600],
            ], token: token)
        }
        try await cluster.waitFor("the slow job to run", timeout: 120) { holder.acceptOne() }
        #expect(try await call(base, "GET", "/healthz").1["running"] == 1)
        let (status, body, response) = try await execute(base, ["code": "def main():\n    return 1"], token: token)
        #expect(status == 503 && body["error"]?["code"] == "busy")
        #expect(response?.value(forHTTPHeaderField: "Retry-After") == "1")
        holder.release()
        #expect(try await slow.value.1["result"] == "slow")
        let (after, afterBody, _) = try await execute(base, ["code": "def main():\n    return 1"], token: token)
        #expect(after == 200 && afterBody["result"] == 1)
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.appendingPathComponent("config/agentos/sandbox-token").path),
                "a given token is not written anywhere")
    }

    @Test func refusesToStartWithoutBubblewrapUnlessTold() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        // A machine without bubblewrap: in a mount namespace of its own (root only), /usr/bin/bwrap
        // is /dev/null (not executable), and PATH has nothing else.
        if geteuid() == 0 {
            let hidden = ["/usr/bin/unshare", "--mount", "/bin/sh", "-c", "mount --bind /dev/null /usr/bin/bwrap && exec \"$0\" \"$@\""]
            let environment = ["PATH": "/usr/bin:/bin"]
            try cluster.start("no-bwrap", ["sandbox", "--listen", "127.0.0.1:0", "--cache", cluster.sandboxCache], environment: environment, via: hidden)
            #expect(try await cluster.waitForExit("no-bwrap") == 1)
            #expect(cluster.log("no-bwrap").contains("bubblewrap (bwrap) is not installed, and jobs never run without a sandbox"), "\(cluster.log("no-bwrap"))")
            try cluster.start("worker-no-bwrap", ["worker", "--token", "t", "--cache", cluster.sandboxCache], environment: environment, via: hidden)
            #expect(try await cluster.waitForExit("worker-no-bwrap") == 1)
            #expect(cluster.log("worker-no-bwrap").contains("--insecure-no-sandbox"), "\(cluster.log("worker-no-bwrap"))")
            try cluster.start("up-no-bwrap", ["up", "--data", cluster.directory.appendingPathComponent("up-data").path], environment: environment, via: hidden)
            #expect(try await cluster.waitForExit("up-no-bwrap") == 1)
            #expect(cluster.log("up-no-bwrap").contains("bubblewrap (bwrap) is not installed"), "\(cluster.log("up-no-bwrap"))")
        }
        // A wrong --bwrap is named as such.
        try cluster.start("wrong-bwrap", ["sandbox", "--listen", "127.0.0.1:0", "--bwrap", "/nonexistent/bwrap"])
        #expect(try await cluster.waitForExit("wrong-bwrap") == 1)
        #expect(cluster.log("wrong-bwrap").contains("no bubblewrap at /nonexistent/bwrap"), "\(cluster.log("wrong-bwrap"))")

        let base = try await startService(
            cluster, name: "insecure", arguments: ["--listen", "127.0.0.1:0", "--token", "insecure-token-123456", "--insecure-no-sandbox"],
            environment: ["AGENTOS_BWRAP": "/nonexistent/bwrap"])
        #expect(cluster.log("insecure").contains("WITHOUT isolation"))
        let (_, health, _) = try await call(base, "GET", "/healthz")
        #expect(health["sandbox"] == "none")
    }

    /// Local addresses listening on `port`, from /proc/net/tcp and tcp6.
    static func listeningAddresses(port: Int) -> [String] {
        var found: [String] = []
        for (file, width) in [("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)] {
            // Read to the end: String(contentsOfFile:) stops after the first page of a /proc
            // file, and a machine with many sockets open lists more than a page.
            let data = FileHandle(forReadingAtPath: file).flatMap { try? $0.readToEnd() } ?? Data()
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[3] == "0A" else { continue }
                let local = fields[1].split(separator: ":")
                guard local.count == 2, Int(local[1], radix: 16) == port, local[0].count == width else { continue }
                if width == 8, let value = UInt32(local[0], radix: 16) {
                    let bytes = withUnsafeBytes(of: value.littleEndian) { Array($0) }
                    found.append(bytes.map(String.init).joined(separator: "."))
                } else {
                    found.append(String(local[0]))
                }
            }
        }
        return found
    }
}

/// A TCP listener on a kernel-chosen loopback port that holds the connections it accepts
/// open until `release()`: a sandboxed job with the network blocks on one for as long as a
/// test needs it running.
final class ConnectionHolder: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let accepted = Mutex<[Int32]>([])

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        guard bound == 0, listen(listener, 8) == 0 else {
            close(listener)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts a waiting connection, if any, and keeps it open.
    func acceptOne() -> Bool {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return false }
        accepted.withLock { $0.append(client) }
        return true
    }

    /// Closes the connections held, which their peers read as the end of the stream.
    func release() {
        accepted.withLock { fds in
            fds.forEach { close($0) }
            fds.removeAll()
        }
    }

    deinit {
        release()
        close(listener)
    }
}

import AgentOSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The system across machines, simulated with network namespaces the test makes itself: the
/// server in one, two gateways and two cloud workers in another, a desktop in a third, all on
/// one bridge of veth links (and the test on a veth of its own). Nothing reaches a host outside.
@Suite(.serialized, .enabled(if: NetworkLab.isPossible, "needs root, iproute2 and tcpdump"))
struct MultiHostTests {
    @Test func jobsFlowAcrossMachinesEncryptedAndSurviveTheServersLinkGoingDown() async throws {
        let lab = try await NetworkLab.make()
        let cluster = try Cluster()
        defer {
            cluster.shutdown()
            lab.destroy()
        }
        let server = lab.address(1), cloud = lab.address(2)
        let (bus, api) = ("tcp://\(server):5555", "tcp://\(server):5556")

        // Everything on the bus and the API socket, as it crosses the bridge.
        let capture = cluster.directory.appendingPathComponent("bus.pcap").path
        try cluster.startCommand("tcpdump", lab.exec(lab.bridge, "tcpdump") + ["-i", "br0", "-U", "-n", "-Z", "root", "-w", capture, "tcp port 5555 or tcp port 5556"])
        try await cluster.waitFor("tcpdump to listen", timeout: 60) { cluster.log("tcpdump").contains("listening on") }

        try cluster.start("server", ["server", "--data", cluster.dataDirectory, "--bus", bus, "--api", api, "--heartbeat-ms", "500"], via: lab.exec(lab.server))
        try await cluster.waitFor("the server to listen", timeout: 60) { cluster.log("server").contains("server ready") }
        #expect(cluster.log("server").contains("bus_security=curve") && cluster.log("server").contains("api_security=curve"))
        let serverKey = cluster.serverKeyPath, gatewayToken = cluster.dataDirectory + "/gateway-token"
        for (index, port) in [8080, 8081].enumerated() {
            try cluster.start("gateway-\(index + 1)", [
                "gateway", "--listen", "\(cloud):\(port)", "--server", api, "--server-key", serverKey, "--token-file", gatewayToken,
            ], via: lab.exec(lab.cloud))
        }
        for name in ["cloud-1", "cloud-2"] {
            try cluster.start(name, [
                "worker", "--server", bus, "--server-key", serverKey, "--token-file", cluster.dataDirectory + "/worker-token",
                "--name", name, "--slots", "3", "--insecure-no-sandbox",
            ], via: lab.exec(lab.cloud))
        }
        cluster.useGateway("\(cloud):8081")
        try await cluster.waitUntilHealthy()
        cluster.useGateway("\(cloud):8080")
        try await cluster.waitUntilHealthy()
        let admin = try await cluster.login()
        try await cluster.waitForWorkers(["cloud-1", "cloud-2"], token: admin)

        // The desktop logs in through a gateway across the network. Plain HTTP beyond
        // loopback cannot vouch for the server's key, so it is given.
        let config = cluster.directory.appendingPathComponent("desk-config").path
        try cluster.start("login", ["login", "--gateway", "http://\(cloud):8080", "--email", "admin@localhost"],
                          environment: ["XDG_CONFIG_HOME": config, "AGENTOS_PASSWORD": cluster.adminPassword], via: lab.exec(lab.desktop))
        #expect(try await cluster.waitForExit("login") == 0, "\(cluster.log("login"))")
        try cluster.start("keyless-desk", ["desktop", "attach", "--name", "keyless", "--insecure-no-sandbox"],
                          environment: ["XDG_CONFIG_HOME": config], via: lab.exec(lab.desktop))
        #expect(try await cluster.waitForExit("keyless-desk") == 1)
        #expect(cluster.log("keyless-desk").contains("cannot be trusted on first use"))
        try cluster.start("desk", ["desktop", "attach", "--name", "desk", "--slots", "1", "--server-key", serverKey, "--insecure-no-sandbox"],
                          environment: ["XDG_CONFIG_HOME": config], via: lab.exec(lab.desktop))
        try await cluster.waitForWorkers(["cloud-1", "cloud-2", "desk"], token: admin)

        // Jobs flow end to end, cloud and private; their code must not cross the wire in clear.
        let marker = "SECRET-CODE-\(UUID().uuidString)"
        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": .string("def main():\n    return '\(marker)'[:6]")], token: admin)
        #expect(status == 200 && job["result"] == "SECRET", "\(job)")
        let (_, mine) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60",
            body: ["code": .string("def main():\n    return 'private \(marker)'[:7]"), "target": "private"], token: admin)
        #expect(mine["result"] == "private" && mine["worker"] == "desk", "\(mine)")

        // A peer with a wrong token is refused at the handshake.
        let bogus = cluster.directory.appendingPathComponent("bogus-token").path
        try Data("aow_bogus\n".utf8).write(to: URL(fileURLWithPath: bogus))
        try cluster.start("bogus", ["worker", "--server", bus, "--server-key", serverKey, "--token-file", bogus, "--insecure-no-sandbox"],
                          via: lab.exec(lab.desktop))
        #expect(try await cluster.waitForExit("bogus") == 1)
        #expect(cluster.log("bogus").contains("refused this worker's key at the handshake"))

        // The server's link goes down for 30 s with jobs running and queued, then comes back:
        // every job ends once, with its own result, and none is duplicated.
        var ids: [String: Int] = [:]
        for n in 0..<12 {
            let (code, submitted) = try await cluster.http(
                "POST", "/api/v1/projects/default/jobs",
                body: ["code": "import time\ndef main(n):\n    time.sleep(2)\n    return n * n", "inputs": ["n": .number(Double(n))],
                       "idempotency_key": .string("link-\(n)"), "max_attempts": 5], token: admin)
            #expect(code == 202)
            ids[try #require(submitted["id"]?.stringValue)] = n
        }
        try await cluster.waitFor("jobs to start", timeout: 120) {
            let (_, list) = try await cluster.http("GET", "/api/v1/projects/default/jobs?status=running", token: admin)
            return (list["jobs"]?.arrayValue?.count ?? 0) >= 3
        }
        try await lab.command(lab.exec(lab.server, "ip") + ["link", "set", lab.link(lab.server), "down"])
        try await Task.sleep(for: .seconds(30))
        try await lab.command(lab.exec(lab.server, "ip") + ["link", "set", lab.link(lab.server), "up"])
        try await cluster.waitFor("every job to end after the link came back", timeout: 300) {
            for id in ids.keys {
                guard let status = try? await cluster.job(id, token: admin)["status"]?.stringValue, status != "queued", status != "running" else {
                    return false
                }
            }
            return true
        }
        for (id, n) in ids {
            let final = try await cluster.job(id, token: admin)
            #expect(final["status"] == "succeeded" && final["result"] == .number(Double(n * n)), "\(final)")
        }
        let (_, listed) = try await cluster.http("GET", "/api/v1/projects/default/jobs?limit=200", token: admin)
        let jobs = listed["jobs"]?.arrayValue ?? []
        #expect(jobs.filter { $0["idempotency_key"]?.stringValue?.hasPrefix("link-") == true }.count == 12)
        let (_, again) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": "def main():\n    return 'after'"], token: admin)
        #expect(again["result"] == "after")

        // The capture holds the traffic, and none of it in clear: no code, no token.
        try await cluster.kill("tcpdump", signal: SIGTERM)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: capture))
        let packets = PacketCapture.count(bytes)
        #expect(packets > 200, "\(packets) packets captured")
        var secrets = [marker, admin, "def main()", "time.sleep"]
        for file in ["worker-token", "gateway-token"] {
            secrets.append(try String(contentsOfFile: cluster.dataDirectory + "/" + file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for secret in secrets {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret.prefix(12))… crossed the wire in clear")
        }
        // The same capture does show what is not encrypted: its control can fail.
        #expect(bytes.range(of: Data("CURVE".utf8)) != nil, "the handshake names its mechanism")
    }
}

/// Network namespaces and veth links on one bridge, made for a test and removed after.
struct NetworkLab {
    static var ip: String? { ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first(where: FileManager.default.isExecutableFile(atPath:)) }
    static var tcpdump: String? { ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: FileManager.default.isExecutableFile(atPath:)) }
    static var nsenter: String? { ["/usr/bin/nsenter", "/bin/nsenter"].first(where: FileManager.default.isExecutableFile(atPath:)) }
    /// Whether this machine lets the test make namespaces: root, the tools, and a kernel
    /// (or container) that allows `ip netns add`.
    static let isPossible: Bool = {
        guard getuid() == 0, let ip, tcpdump != nil, nsenter != nil else { return false }
        let probe = "aos-probe-\(getpid())"
        let lab = NetworkLab(probeOnly: ())
        guard (try? lab.run([ip, "netns", "add", probe])) != nil else { return false }
        try? lab.run([ip, "netns", "del", probe])
        return true
    }()

    let id = String(UUID().uuidString.lowercased().prefix(6))
    /// The /24 the lab's addresses are in: 10.237.X.0, X by chance.
    let subnet = "10.237.\(Int.random(in: 1...250))"
    var bridge: String { "aos-\(id)-br" }
    var server: String { "aos-\(id)-srv" }
    var cloud: String { "aos-\(id)-cld" }
    var desktop: String { "aos-\(id)-dsk" }

    private init(probeOnly: Void) {}

    /// Makes the namespaces and links.
    static func make() async throws -> NetworkLab {
        let lab = NetworkLab(probeOnly: ())
        let ip = try #require(Self.ip)
        try await lab.command([ip, "netns", "add", lab.bridge])
        try await lab.command(lab.exec(lab.bridge, "ip") + ["link", "add", "br0", "type", "bridge"])
        try await lab.command(lab.exec(lab.bridge, "ip") + ["link", "set", "br0", "up"])
        for (index, namespace) in [lab.server, lab.cloud, lab.desktop].enumerated() {
            try await lab.command([ip, "netns", "add", namespace])
            try await lab.command(lab.exec(namespace, "ip") + ["link", "set", "lo", "up"])
            try await lab.attach(lab.link(namespace), in: namespace, address: lab.address(index + 1))
        }
        // The test's own link, so it can speak HTTP to the gateways.
        try await lab.attach("aos\(lab.id)h", in: nil, address: lab.address(254))
        return lab
    }

    /// The address of host `n` of the lab.
    func address(_ n: Int) -> String { "\(subnet).\(n)" }
    /// The name of a namespace's link to the bridge.
    func link(_ namespace: String) -> String { "v\(namespace.suffix(3))\(id)" }

    /// The prefix that runs a command (the agentos binary by default) in `namespace`.
    /// nsenter execs the command in place, so its process id is the command's own and a
    /// signal reaches it (`ip netns exec` may stay in between).
    func exec(_ namespace: String, _ tool: String? = nil) -> [String] {
        let path = switch tool {
        case "ip": Self.ip ?? "ip"
        case "tcpdump": Self.tcpdump ?? "tcpdump"
        default: tool
        }
        return [Self.nsenter ?? "nsenter", "--net=/run/netns/\(namespace)", "--"] + (path.map { [$0] } ?? [])
    }

    /// A veth pair: one end in the bridge's namespace on br0, the other, addressed, in
    /// `namespace` (nil: the test's own).
    private func attach(_ name: String, in namespace: String?, address: String) async throws {
        let ip = try #require(Self.ip)
        let peer = "p" + name.dropFirst()
        try await command([ip, "link", "add", name, "type", "veth", "peer", "name", peer])
        try await command([ip, "link", "set", peer, "netns", bridge])
        try await command(exec(bridge, "ip") + ["link", "set", peer, "master", "br0", "up"])
        let side = namespace.map { exec($0, "ip") } ?? [ip]
        if let namespace { try await command([ip, "link", "set", name, "netns", namespace]) }
        try await command(side + ["addr", "add", "\(address)/24", "dev", name])
        try await command(side + ["link", "set", name, "up"])
    }

    /// Runs a command to its end without blocking a cooperative thread; throws when it fails.
    func command(_ arguments: [String]) async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("aos-lab-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = try TestProcess(
            executable: arguments[0], arguments: Array(arguments.dropFirst()), environment: ProcessInfo.processInfo.environment, logPath: log)
        while process.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        guard process.status == 0 else {
            let message = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw LabError(description: "\(arguments.joined(separator: " ")) failed: \(message)")
        }
    }

    /// Runs a command to its end, blocking: for the probe and the clean-up, outside the test's tasks.
    func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError(description: "\(arguments.joined(separator: " ")) failed")
        }
    }

    /// Removes the namespaces (their links go with them) and the test's own link.
    func destroy() {
        guard let ip = Self.ip else { return }
        try? run([ip, "link", "del", "aos\(id)h"])
        for namespace in [server, cloud, desktop, bridge] { try? run([ip, "netns", "del", namespace]) }
    }

    struct LabError: Error, CustomStringConvertible { let description: String }
}

/// Reads a pcap file (libpcap format, as tcpdump -w writes).
enum PacketCapture {
    /// How many packets the file holds.
    static func count(_ bytes: Data) -> Int {
        let data = [UInt8](bytes)
        guard data.count >= 24 else { return 0 }
        let littleEndian = data[0] == 0xd4 || data[0] == 0x4d
        var offset = 24, count = 0
        while offset + 16 <= data.count {
            let field = data[(offset + 8)..<(offset + 12)]
            let length = littleEndian
                ? field.reversed().reduce(0) { $0 << 8 | Int($1) }
                : field.reduce(0) { $0 << 8 | Int($1) }
            offset += 16 + length
            if offset <= data.count { count += 1 }
        }
        return count
    }
}

import AgentOSSupervisor
import Foundation
import Logging
import Testing

@Suite struct TopologyTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func builtInSingleNodeMatchesTheFile() throws {
        let file = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("topology/single-node.yaml"), encoding: .utf8)
        #expect(file == Topology.singleNodeYAML)
        let topology = try Topology.parse(file)
        #expect(topology.gateways?.map(\.listen) == ["127.0.0.1:8080"])
        #expect(topology.workers?.first?.count == 2)
    }

    @Test func singleNodeStartsAServerAGatewayAndTwoWorkers() throws {
        let supervisor = Supervisor(
            executable: "/bin/agentos", topology: try Topology.parse(Topology.singleNodeYAML), dataDirectory: "/data",
            logger: Logger(label: "test"))
        #expect(supervisor.serverProcess()?.arguments == ["server", "--data", "/data", "--bus", "tcp://127.0.0.1:5555", "--api", "tcp://127.0.0.1:5556"])
        let names = supervisor.dependentProcesses().map(\.name)
        #expect(names == ["gateway-1", "cloud-1", "cloud-2"])
        let worker = try #require(supervisor.dependentProcesses().last)
        #expect(worker.arguments.contains("/data/worker-token"))
    }

    @Test func badTopologyIsAClearError() {
        #expect(throws: TopologyError.self) { try Topology.parse("name: [unclosed") }
        #expect(throws: TopologyError.self) { try Topology.parse("name: x\nworkers:\n  - name: w\n    count: -1\n") }
    }
}

@Suite struct CurveTopologyTests {
    @Test func theShippedCloudTopologyGivesWorkersTheServerKeyAndALocalEndpoint() throws {
        let text = try String(contentsOf: TopologyTests.repositoryRoot.appendingPathComponent("topology/cloud.yaml"), encoding: .utf8)
        let topology = try Topology.parse(text)
        #expect(topology.server?.busUsesCurve == true && topology.server?.apiUsesCurve == false)
        let supervisor = Supervisor(executable: "/bin/agentos", topology: topology, dataDirectory: "/data", logger: .init(label: "test"))
        let workers = supervisor.dependentProcesses().filter { $0.arguments.first == "worker" }
        #expect(workers.count == 4)
        for worker in workers {
            #expect(worker.arguments.contains("tcp://127.0.0.1:5555"))
            let key = try #require(worker.arguments.firstIndex(of: "--server-key"))
            #expect(worker.arguments[key + 1] == "/data/server-key.pub")
        }
        let gateways = supervisor.dependentProcesses().filter { $0.arguments.first == "gateway" }
        #expect(gateways.count == 2 && gateways.allSatisfy { !$0.arguments.contains("--server-key") })
    }

    @Test func gatewaysGetTheServerKeyAndTheirTokenWhenTheAPISocketRunsCurve() throws {
        let topology = try Topology.parse("""
            name: t
            server: {bus: "tcp://127.0.0.1:5555", api: "tcp://10.0.0.1:5556"}
            gateways: [{listen: "127.0.0.1:8080"}]
            workers: [{name: w, count: 1}]
            """)
        let supervisor = Supervisor(executable: "/bin/agentos", topology: topology, dataDirectory: "/data", logger: .init(label: "test"))
        let processes = supervisor.dependentProcesses()
        #expect(processes[0].arguments.suffix(4) == ["--server-key", "/data/server-key.pub", "--token-file", "/data/gateway-token"])
        // The bus is on loopback and plain: the worker gets no key, which would make it try CURVE.
        #expect(!processes[1].arguments.contains("--server-key"))
    }

    @Test(arguments: [
        ("tcp://127.0.0.1:5555", [String](), false), ("tcp://127.0.0.1:5555", ["--curve-on-loopback"], true),
        ("tcp://0.0.0.0:5555", [], true), ("tcp://*:5555", ["--insecure-plaintext-bus"], false), ("ipc:///tmp/bus", [], false),
    ])
    func curveFollowsTheServersRule(bus: String, args: [String], curve: Bool) throws {
        let args = args.map { "\"\($0)\"" }.joined(separator: ", ")
        let topology = try Topology.parse("name: t\nserver: {bus: \"\(bus)\", api: \"tcp://127.0.0.1:5556\", args: [\(args)]}\n")
        #expect(topology.server?.busUsesCurve == curve)
    }

    @Test func theDesktopTopologyAttachesThisMachine() throws {
        let text = try String(contentsOf: TopologyTests.repositoryRoot.appendingPathComponent("topology/desktop.yaml"), encoding: .utf8)
        let supervisor = Supervisor(executable: "/bin/agentos", topology: try Topology.parse(text), dataDirectory: "/data", logger: .init(label: "test"))
        #expect(supervisor.serverProcess() == nil)
        #expect(supervisor.dependentProcesses().map(\.arguments) == [
            ["desktop", "attach", "--slots", "2"], ["desktop", "sandbox", "--listen", "127.0.0.1:8090"],
        ])
        #expect(supervisor.dependentProcesses().map(\.name) == ["desktop", "desktop-sandbox"])

        let shared = try Topology.parse("name: d\ndesktop:\n  dirs: [~/notes, /srv/out:rw]\n")
        #expect(Supervisor(executable: "/bin/agentos", topology: shared, dataDirectory: "/data", logger: .init(label: "test"))
            .dependentProcesses().map(\.arguments) == [["desktop", "attach", "--dir", "~/notes", "--dir", "/srv/out:rw"]])
    }
}

@Suite struct HATopologyTests {
    @Test func theShippedHATopologyRunsTwoServersOnALocalDatabaseAndEveryoneKnowsBoth() throws {
        let text = try String(contentsOf: TopologyTests.repositoryRoot.appendingPathComponent("topology/ha.yaml"), encoding: .utf8)
        let topology = try Topology.parse(text)
        #expect(topology.database?.local == true && topology.database?.port == 5433 && topology.database?.url == nil)
        let supervisor = Supervisor(executable: "/bin/agentos", topology: topology, dataDirectory: "/data", logger: .init(label: "test"))
        let servers = supervisor.serverProcesses(store: "postgres://agentos@127.0.0.1:5433/agentos")
        #expect(servers.map(\.name) == ["server-1", "server-2"])
        #expect(servers.allSatisfy { $0.arguments.contains("--store") && $0.arguments.contains("/data") }, "one store, one data directory (the keys)")
        let gateways = supervisor.dependentProcesses().filter { $0.arguments.first == "gateway" }
        #expect(gateways.map { $0.arguments[4] } == ["tcp://127.0.0.1:5556,tcp://127.0.0.1:5566", "tcp://127.0.0.1:5566,tcp://127.0.0.1:5556"])
        let workers = supervisor.dependentProcesses().filter { $0.arguments.first == "worker" }
        #expect(workers.count == 4)
        #expect(workers.map { $0.arguments[2].split(separator: ",").first.map(String.init) ?? "" }
            == ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5565", "tcp://127.0.0.1:5555", "tcp://127.0.0.1:5565"], "spread over both servers")
    }

    @Test func severalServersNeedADatabase() {
        let twoServers = """
            name: x
            servers:
              - {bus: "tcp://127.0.0.1:1", api: "tcp://127.0.0.1:2"}
              - {bus: "tcp://127.0.0.1:3", api: "tcp://127.0.0.1:4"}
            """
        #expect(throws: TopologyError.self) { try Topology.parse(twoServers) }
        #expect(throws: TopologyError.self) { try Topology.parse(twoServers + "\ndatabase: {local: true, url: \"postgres://a@b/c\"}\n") }
        #expect(throws: TopologyError.self) { try Topology.parse(twoServers + "\ndatabase: {}\n") }
        #expect(throws: Never.self) { try Topology.parse(twoServers + "\ndatabase: {url: \"postgres://a@b/c\"}\n") }
    }
}

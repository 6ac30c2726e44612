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

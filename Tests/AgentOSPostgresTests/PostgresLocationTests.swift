import AgentOSPostgres
import Testing

@Suite struct PostgresLocationTests {
    @Test func aURLNamesTheDatabaseTheSocketAndThePool() throws {
        let tcp = try PostgresLocation(url: "postgres://ops:se%2Fcret@db.example.com:6543/agentos?sslmode=require&pool_size=4", environment: [:])
        #expect(tcp.host == "db.example.com" && tcp.port == 6543 && tcp.username == "ops" && tcp.password == "se/cret")
        #expect(tcp.database == "agentos" && tcp.tls == .require && tcp.maximumConnections == 4 && tcp.socketDirectory == nil)
        #expect(!tcp.description.contains("se/cret"), "the password stays out of logs")

        let socket = try PostgresLocation(url: "postgresql://agentos@localhost:5433/agentos?host=/run/pg", environment: ["PGPASSWORD": "pw"])
        #expect(socket.socketDirectory == "/run/pg" && socket.port == 5433 && socket.password == "pw" && socket.tls == .disable)
        #expect(socket.description == "postgres://agentos@localhost:5433/agentos?host=/run/pg")
    }

    @Test(arguments: [
        ("mysql://a@b/c", "not a PostgreSQL URL"),
        ("postgres://a@b:99999/c", "port must be 1-65535"),
        ("postgres://a@b/c?sslmode=maybe", "sslmode must be one of"),
        ("postgres://a@b/c?pool_size=0", "pool_size must be 1-1000"),
        ("postgres://a@b/c?options=-c", "unknown parameter options"),
    ])
    func badURLsAreRefusedSayingWhy(_ url: String, _ message: String) {
        #expect {
            try PostgresLocation(url: url, environment: [:])
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}

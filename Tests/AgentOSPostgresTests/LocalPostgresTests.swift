import AgentOSPostgres
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite struct LocalPostgresTests {
    @Test func aClusterAnswersQueriesAndIsGoneAfterItStops() async throws {
        let cluster = try await LocalPostgres.start()
        let stopped: Bool
        do {
            let answer = try await cluster.withConnection { connection in
                let rows = try await connection.query("SELECT current_setting('server_version_num')::bigint, \(41) + 1", logger: LocalPostgres.logger)
                var answers: [(Int, Int)] = []
                for try await row in rows.decode((Int, Int).self) { answers.append(row) }
                return answers
            }
            #expect(answer.count == 1)
            #expect((answer.first?.0 ?? 0) >= 150_000, "Debian's PostgreSQL 15 or newer")
            #expect(answer.first?.1 == 42, "a bound parameter reaches the server")

            let database = try await cluster.createDatabase()
            let current = try await cluster.withConnection(database: database) { connection in
                let rows = try await connection.query("SELECT current_database()", logger: LocalPostgres.logger)
                var names: [String] = []
                for try await name in rows.decode(String.self) { names.append(name) }
                return names
            }
            #expect(current == [database])
            #expect(FileManager.default.fileExists(atPath: cluster.socketDirectory + "/.s.PGSQL.\(cluster.port)"))
            try await cluster.stop()
            stopped = true
        } catch {
            try? await cluster.stop()
            throw error
        }
        #expect(stopped)
        #expect(kill(cluster.pid, 0) != 0, "the postmaster has exited")
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.path), "its directory is deleted")
        await #expect(throws: (any Error).self, "nothing listens on its port any more") {
            try await cluster.withConnection { connection in
                _ = try await connection.query("SELECT 1", logger: LocalPostgres.logger)
            }
        }
    }

    @Test func twoClustersRunSideBySide() async throws {
        try await LocalPostgres.with { first in
            try await LocalPostgres.with { second in
                #expect(first.port != second.port)
                #expect(first.pid != second.pid)
                let database = try await first.createDatabase()
                let onSecond = try await second.withConnection { connection in
                    let rows = try await connection.query("SELECT count(*) FROM pg_database WHERE datname = \(database)", logger: LocalPostgres.logger)
                    var counts: [Int] = []
                    for try await count in rows.decode(Int.self) { counts.append(count) }
                    return counts
                }
                #expect(onSecond == [0], "a database made on one cluster is not on the other")
            }
        }
    }
}

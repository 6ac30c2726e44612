@testable import AgentOSPostgres
import AgentOSStore
import Foundation
import Logging
import PostgresNIO
import Testing

/// `store copy`'s check: it says when the copy and its source differ.
@Suite struct StoreCopyCheckTests {
    @Test func aRowChangedAfterTheCopyIsReportedAsADifference() async throws {
        try await LocalPostgres.with { cluster in
            let source = try SQLiteStore.inMemory()
            let owner = try source.createUser(User(email: "a@example.com", name: "A", passwordHash: "x", role: .admin))
            _ = try source.createProject(name: "p", owner: owner.id)
            let database = try await cluster.createDatabase()
            let target = try PostgresStore.open(try PostgresLocation(url: cluster.url(database: database)), logger: LocalPostgres.logger)
            defer { target.close() }
            let copy = StoreCopy(source: source, blobDirectory: NSTemporaryDirectory(), target: target)
            let reports = try copy.run()
            #expect(reports.filter { !$0.matches }.isEmpty, "\(reports.filter { !$0.matches }.map(\.table))")
            #expect(reports.first { $0.table == "users" }?.rows == 1)

            _ = try target.updateUser(id: owner.id) { $0.name = "Changed" }
            let after = try copy.check(columns: try target.columnTypes())
            #expect(after.filter { !$0.matches }.map(\.table) == ["users"])
            #expect(throws: StoreCopy.Failure.self, "a second copy into a database with users is refused") { _ = try copy.run() }
        }
    }
}

@testable import AgentOSServer
import AgentOSWire
import Foundation
import Testing

@Suite struct WorkerListTests {
    func worker(_ id: String, kind: WorkerKind = .cloud, owner: String? = nil, slots: Int = 2) -> ConnectedWorker {
        ConnectedWorker(
            identity: Array(id.utf8), workerID: id, name: "name-\(id)", kind: kind, ownerID: owner, labels: [], slots: slots,
            version: "t", connectedAt: Date(), running: [:], lastHeard: Date(), draining: false)
    }

    @Test func workersArePagedByIDAndTheCloudSummaryCountsThemAll() async throws {
        let h = try await APIHarness()
        let admin = try await h.token(for: h.user("admin", role: .admin))
        let bob = try h.user("bob")
        let bobToken = try await h.token(for: bob)
        h.directory.publish(["w5", "w1", "w4", "w2", "w3"].map { worker($0) } + [worker("d1", kind: .private, owner: bob.id)])

        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let reply = await h.call(.listWorkers, token: admin, params: ["limit": "2"].merging(cursor.map { ["cursor": $0] } ?? [:]) { $1 })
            #expect(reply.status == 200)
            #expect(reply.body["cloud"]?["workers"] == 5 && reply.body["cloud"]?["slots"] == 10, "the summary is of all cloud workers, not the page")
            seen += (reply.body["workers"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            cursor = reply.body["next_cursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen == ["d1", "w1", "w2", "w3", "w4", "w5"])
        #expect(pages == 3)

        let bobs = await h.call(.listWorkers, token: bobToken)
        #expect(bobs.body["workers"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["d1"], "a user sees only their own private workers")
        #expect(bobs.body["next_cursor"] == .null)
        #expect(await h.call(.listWorkers, token: admin, params: ["limit": "0"]).status == 400)
    }
}

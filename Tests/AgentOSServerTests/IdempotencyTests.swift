@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// An idempotency key names one request: a retry gets the job it made, another request with
/// the key is refused.
@Suite struct IdempotencyTests {
    @Test func aRetryGetsTheSameJobAndAnotherRequestWithTheKeyIsAConflict() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        let body: JSONValue = ["code": "def main(x): return x", "inputs": ["x": 1], "idempotency_key": "k-1"]
        let first = await h.call(.submitJob, token: token, params: ["project": "p"], body: body)
        #expect(first.status == 202)
        let retry = await h.call(.submitJob, token: token, params: ["project": "p"], body: body)
        #expect(retry.status == 200 && retry.body["id"] == first.body["id"], "\(retry.body)")
        for changed: JSONValue in [
            ["code": "def main(x): return x", "inputs": ["x": 2], "idempotency_key": "k-1"],
            ["code": "def main(x): return -x", "inputs": ["x": 1], "idempotency_key": "k-1"],
            ["code": "def main(x): return x", "inputs": ["x": 1], "idempotency_key": "k-1", "priority": 5],
        ] {
            let reply = await h.call(.submitJob, token: token, params: ["project": "p"], body: changed)
            #expect(reply.status == 409 && reply.body["error"]?["message"]?.stringValue?.contains("was used for a different job") == true, "\(reply.body)")
        }
        #expect(h.recorder.events.withLock { $0.count } == 1, "one job was queued")
    }

    @Test func aSkillNamedWithoutAVersionIsTheSameRequestAfterANewVersion() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        #expect(await h.call(.createSkill, token: token, params: ["project": "p"], body: ["name": "s", "code": "def main(): return 1"]).status == 201)
        let body: JSONValue = ["skill": "s", "idempotency_key": "k-2"]
        let first = await h.call(.submitJob, token: token, params: ["project": "p"], body: body)
        #expect(first.status == 202)
        #expect(await h.call(.createSkillVersion, token: token, params: ["project": "p", "skill": "s"], body: ["code": "def main(): return 2"]).status == 201)
        let retry = await h.call(.submitJob, token: token, params: ["project": "p"], body: body)
        #expect(retry.status == 200 && retry.body["id"] == first.body["id"] && retry.body["version"] == 1, "\(retry.body)")
        let pinned = await h.call(.submitJob, token: token, params: ["project": "p"], body: ["skill": "s@2", "idempotency_key": "k-2"])
        #expect(pinned.status == 409, "\(pinned.body)")
    }

    @Test func aRetryGetsItsJobEvenWhenTheQuotaIsFull() async throws {
        var limits = APIHandler.Limits()
        limits.submits.maxQueuedPerUser = 1
        let h = try await APIHarness(limits: limits)
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        let body: JSONValue = ["code": "pass", "idempotency_key": "k-3"]
        let first = await h.call(.submitJob, token: token, params: ["project": "p"], body: body)
        #expect(first.status == 202)
        let another = await h.call(.submitJob, token: token, params: ["project": "p"], body: ["code": "pass", "idempotency_key": "k-4"])
        #expect(another.status == 429, "\(another.body)")
        let retry = await h.call(.submitJob, token: token, params: ["project": "p"], body: body)
        #expect(retry.status == 200 && retry.body["id"] == first.body["id"], "\(retry.body)")
    }
}

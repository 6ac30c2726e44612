@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// Text with U+0000 is refused with a 400 naming the field, never stored cut; job output keeps
/// what follows a NUL, which reads as U+FFFD.
@Suite struct NULTests {
    @Test func textFieldsWithNULAreRefusedNamingTheField() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        let session = await h.call(.createSession, token: token, params: ["project": "p"], body: ["title": "t"])
        let sessionID = try #require(session.body["id"]?.stringValue)
        let cases: [(APIOperation, [String: String], JSONValue, String)] = [
            (.createUser, [:], ["email": "nul@example.com", "password": "password-1", "name": "a\u{0}b"], "name"),
            (.createUser, [:], ["email": "nul\u{0}@example.com", "password": "password-1"], "email"),
            (.createSkill, ["project": "p"], ["name": "s", "code": "def main(): return 7\n\u{0}raise SystemExit(5)"], "code"),
            (.createSkill, ["project": "p"], ["name": "s", "code": "def main(): return 7", "description": "d\u{0}x"], "description"),
            (.createSession, ["project": "p"], ["title": "t\u{0}itle"], "title"),
            (.createMessage, ["session": sessionID], ["role": "user", "content": "hi\u{0}there"], "content"),
            (.submitJob, ["project": "p"], ["code": "def main(): return 7\n\u{0}raise SystemExit(5)"], "code"),
            (.submitJob, ["project": "p"], ["code": "def main(): return 7", "labels": ["gpu\u{0}"]], "labels[0]"),
            (.createRuns, ["project": "p"], [["id": "r\u{0}1", "status": "succeeded"]], "runs[0].id"),
        ]
        for (operation, params, body, path) in cases {
            let reply = await h.call(operation, token: token, params: params, body: body)
            #expect(reply.status == 400 && reply.errorCode == "invalid_request", "\(operation) \(path): \(reply.body)")
            #expect(reply.body["error"]?["path"]?.stringValue == path, "\(operation): \(reply.body)")
            #expect(reply.body["error"]?["message"]?.stringValue?.contains("U+0000") == true, "\(reply.body)")
        }
        let upload = await h.call(.uploadFile, token: token, params: ["project": "p", "name": "a\u{0}.txt"], raw: Data("x".utf8))
        #expect(upload.status == 400 && upload.body["error"]?["message"]?.stringValue?.contains("U+0000") == true, "\(upload.body)")
        #expect(try h.store.skill(projectID: h.store.project(idOrName: "p")!.id, name: "s") == nil, "nothing was stored")
    }

    @Test func nulInsideJSONValuesIsKeptExactly() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        let submitted = await h.call(.submitJob, token: token, params: ["project": "p"], body: ["code": "def main(x): return x", "inputs": ["x": "a\u{0}b"]])
        #expect(submitted.status == 202, "\(submitted.body)")
        let id = try #require(submitted.body["id"]?.stringValue)
        let fetched = await h.call(.getJob, token: token, params: ["id": id])
        #expect(fetched.body["inputs"]?["x"] == "a\u{0}b")
    }

    @Test func outputWithNULKeepsWhatFollowsAsReplacementCharacters() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        let record: JSONValue = ["id": "run-1", "status": "failed", "stdout": "one\u{0}two", "stderr": "\u{0}", "error": "bad\u{0}end"]
        let posted = await h.call(.createRuns, token: token, params: ["project": "p"], body: [record])
        #expect(posted.status == 200, "\(posted.body)")
        let listed = await h.call(.listJobs, token: token, params: ["project": "p", "origin": "local"])
        let job = try #require(listed.body["jobs"]?.arrayValue?.first, "\(listed.body)")
        let id = try #require(job["id"]?.stringValue)
        let fetched = await h.call(.getJob, token: token, params: ["id": id])
        #expect(fetched.body["stdout"]?.stringValue == "one\u{FFFD}two" && fetched.body["stderr"]?.stringValue == "\u{FFFD}", "\(fetched.body)")
        #expect(fetched.body["error"]?.stringValue == "bad\u{FFFD}end", "\(fetched.body)")
    }
}

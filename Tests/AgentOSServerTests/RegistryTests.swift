import AgentOSAPI
import AgentOSAuth
@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import GRDB
import Testing

/// Skill versions and input schemas, sealed provider keys, agents' history, files and
/// their blobs, run records, and isolation between projects.
@Suite struct RegistryTests {
    struct World {
        let harness: APIHarness
        let owner: User
        let token: String
        let runnerToken: String

        static func make(store: (any AppStore)? = nil) async throws -> World {
            let harness = try await APIHarness(store: store)
            let owner = try harness.user("owner")
            let runner = try harness.user("runner")
            let project = try harness.store.createProject(name: "p", owner: owner.id)
            try harness.store.setMember(projectID: project.id, userID: runner.id, role: .runner)
            return World(harness: harness, owner: owner, token: try await harness.token(for: owner), runnerToken: try await harness.token(for: runner))
        }
    }

    static let sumSkill: JSONValue = [
        "name": "sum", "description": "adds up to n", "code": "def main(n):\n    return sum(range(n))\n",
        "input_schema": ["type": "object", "required": ["n"], "properties": ["n": ["type": "integer", "minimum": 0]],
                         "additionalProperties": false],
        "limits": ["timeout_s": 5],
    ]

    @Test func skillVersionsAreImmutableAndIdenticalContentIsTheSameVersion() async throws {
        let world = try await World.make()
        let h = world.harness
        let created = await h.call(.createSkill, token: world.token, params: ["project": "p"], body: Self.sumSkill)
        #expect(created.status == 201)
        #expect(created.body["latest_version"] == 1)
        #expect(await h.call(.createSkill, token: world.token, params: ["project": "p"], body: Self.sumSkill).status == 409)

        var same = Self.sumSkill.objectValue ?? [:]
        same["name"] = nil
        let again = await h.call(.createSkillVersion, token: world.token, params: ["project": "p", "skill": "sum"], body: .object(same))
        #expect(again.status == 200)
        #expect(again.body["version"] == 1)
        #expect(again.body["created"] == false)

        same["code"] = "def main(n):\n    return n * (n - 1) // 2\n"
        let second = await h.call(.createSkillVersion, token: world.token, params: ["project": "p", "skill": "sum"], body: .object(same))
        #expect(second.status == 201)
        #expect(second.body["version"] == 2)
        let first = await h.call(.getSkillVersion, token: world.runnerToken, params: ["project": "p", "skill": "sum", "version": "1"])
        #expect(first.body["code"]?.stringValue?.contains("sum(range(n))") == true)
        #expect(first.body["content_hash"] != second.body["content_hash"])
        let versions = await h.call(.listSkillVersions, token: world.runnerToken, params: ["project": "p", "skill": "sum"])
        #expect(versions.body["versions"]?.arrayValue?.compactMap { $0["version"]?.intValue } == [2, 1])

        // A runner may not write skills.
        #expect(await h.call(.createSkillVersion, token: world.runnerToken, params: ["project": "p", "skill": "sum"], body: .object(same)).status == 403)

        for bad: JSONValue in [
            ["name": "bad name", "code": "x"], ["name": "x"], ["name": "x", "code": "x", "entrypoint": "run"],
            ["name": "x", "code": "x", "input_schema": ["type": "banana"]], ["name": "x", "code": "x", "limits": ["timeout_s": -1]],
            ["name": "x", "code": "x", "requirements": 5], ["name": "x", "code": "x", "input_schema": ["pattern": "("]],
        ] {
            let response = await h.call(.createSkill, token: world.token, params: ["project": "p"], body: bad)
            #expect(response.status == 400, "\(bad) → \(response.status) \(response.body)")
        }
    }

    @Test func listsTakeUpdatedSinceForAnIncrementalSync() async throws {
        let world = try await World.make()
        let h = world.harness
        let created = await h.call(.createSkill, token: world.token, params: ["project": "p"], body: Self.sumSkill)
        let stamp = try #require(created.body["updated_at"]?.stringValue)
        let time = try #require(Timestamp.parse(stamp))
        func listed(_ since: String) async -> [String] {
            await h.call(.listSkills, token: world.runnerToken, params: ["project": "p", "updated_since": since]).body["skills"]?
                .arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        }
        #expect(await listed(stamp) == ["sum"], "at or after")
        #expect(await listed(Timestamp.format(time.addingTimeInterval(0.001))) == [])
        #expect(await listed("2020-01-01T00:00:00Z") == ["sum"], "without fractional seconds too")
        // A new version moves the skill's time.
        var next = Self.sumSkill.objectValue ?? [:]
        next["name"] = nil
        next["code"] = "def main(n):\n    return n\n"
        let version = await h.call(.createSkillVersion, token: world.token, params: ["project": "p", "skill": "sum"], body: .object(next))
        #expect(version.status == 201)
        #expect(await listed(Timestamp.format(time.addingTimeInterval(0.001))) == ["sum"])

        _ = await h.call(.createProvider, token: world.token, params: ["project": "p"], body: [
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key": "k", "models": ["gpt-4o"],
        ])
        let agent = await h.call(.createAgent, token: world.token, params: ["project": "p"], body: ["name": "helper", "provider": "openai", "model": "gpt-4o"])
        let agentTime = try #require(agent.body["updated_at"]?.stringValue.flatMap(Timestamp.parse))
        let agents = await h.call(.listAgents, token: world.runnerToken, params: ["project": "p", "updated_since": Timestamp.format(agentTime.addingTimeInterval(0.001))])
        #expect(agents.status == 200 && agents.body["agents"] == [])
        for bad in ["yesterday", "", "2026-13-45T00:00:00Z"] {
            let response = await h.call(.listSkills, token: world.runnerToken, params: ["project": "p", "updated_since": bad])
            #expect(response.status == 400 && response.body["error"]?["message"]?.stringValue?.contains("updated_since") == true, "\(bad)")
            #expect(await h.call(.listAgents, token: world.runnerToken, params: ["project": "p", "updated_since": bad]).status == 400)
        }
    }

    @Test func jobsByNamePinTheVersionAndCheckInputs() async throws {
        let world = try await World.make()
        let h = world.harness
        #expect(await h.call(.createSkill, token: world.token, params: ["project": "p"], body: Self.sumSkill).status == 201)
        let job = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["skill": "sum", "inputs": ["n": 10]])
        #expect(job.status == 202)
        #expect(job.body["skill"] == "sum")
        #expect(job.body["version"] == 1)
        #expect(job.body["limits"]?["timeout_s"] == 5)
        let stored = try #require(try h.store.job(id: job.body["id"]?.stringValue ?? ""))
        #expect(stored.code.contains("sum(range(n))"))

        var next = Self.sumSkill.objectValue ?? [:]
        next["code"] = "def main(n):\n    return -n\n"
        _ = await h.call(.createSkillVersion, token: world.token, params: ["project": "p", "skill": "sum"], body: .object(next))
        let pinned = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["skill": "sum@1", "inputs": ["n": 3]])
        #expect(pinned.body["version"] == 1)
        let latest = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["skill": "sum", "inputs": ["n": 3], "limits": ["timeout_s": 9]])
        #expect(latest.body["version"] == 2)
        #expect(latest.body["limits"]?["timeout_s"] == 9)

        let cases: [(JSONValue, String)] = [
            (["skill": "sum", "inputs": [:]], "inputs/n"),
            (["skill": "sum", "inputs": ["n": "ten"]], "inputs/n"),
            (["skill": "sum", "inputs": ["n": -1]], "inputs/n"),
            (["skill": "sum", "inputs": ["n": 1, "m": 2]], "inputs/m"),
        ]
        for (body, path) in cases {
            let response = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: body)
            #expect(response.status == 400)
            #expect(response.errorCode == "invalid_inputs")
            #expect(response.body["error"]?["path"]?.stringValue == path, "\(response.body)")
        }
        #expect(await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["skill": "nope"]).errorCode == "unknown_skill")
        #expect(await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["skill": "sum", "version": 7]).errorCode == "unknown_skill_version")
    }

    @Test func networkIsOffUntilAnAdminAllowsItAndRequirementsAreChecked() async throws {
        let world = try await World.make()
        let h = world.harness
        let asking: JSONValue = ["code": "x = 1", "limits": ["network": true]]
        let refused = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: asking)
        #expect(refused.status == 403 && refused.errorCode == "network_not_allowed", "\(refused.body)")
        // A skill asking for it by default is refused the same way.
        var networked = Self.sumSkill.objectValue ?? [:]
        networked["name"] = "fetch"
        networked["limits"] = ["network": true]
        #expect(await h.call(.createSkill, token: world.token, params: ["project": "p"], body: .object(networked)).status == 201)
        #expect(await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["skill": "fetch", "inputs": ["n": 1]]).errorCode == "network_not_allowed")
        #expect(await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["code": "x = 1"]).status == 202)

        // Owners cannot turn it on, at creation or after; an admin can.
        #expect(await h.call(.updateProject, token: world.token, params: ["project": "p"], body: ["allow_network": true]).status == 403)
        #expect(await h.call(.createProject, token: world.token, body: ["name": "open", "allow_network": true]).status == 403)
        let admin = try await h.token(for: try h.user("root", role: .admin))
        let allowed = await h.call(.updateProject, token: admin, params: ["project": "p"], body: ["allow_network": true])
        #expect(allowed.status == 200 && allowed.body["allow_network"] == true)
        let job = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: asking)
        #expect(job.status == 202 && job.body["limits"]?["network"] == true)
        #expect(try h.store.auditEntries(action: "project.network", beforeSeq: nil, limit: 10).count == 1)

        // Requirements a worker would refuse are refused when the skill is pushed.
        for requirements in ["--index-url http://10.0.0.1/simple\nx", "pkg @ https://example.com/pkg.whl", "-r /etc/shadow"] {
            var bad = Self.sumSkill.objectValue ?? [:]
            bad["name"] = "bad"
            bad["requirements"] = .string(requirements)
            let response = await h.call(.createSkill, token: world.token, params: ["project": "p"], body: .object(bad))
            #expect(response.status == 400 && (response.body["error"]?["message"]?.stringValue ?? "").contains("is not allowed"), "\(response.body)")
        }
    }

    @Test func providerKeysAreSealedAtRestAndRevealedOnlyToRunners() async throws {
        let path = NSTemporaryDirectory() + "agentos-secret-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let sqlite = try SQLiteStore.open(path: path)
        let world = try await World.make(store: sqlite)
        let h = world.harness
        let key = "sk-live-THIS-IS-THE-SECRET-\(UUID().uuidString)"
        let created = await h.call(.createProvider, token: world.token, params: ["project": "p"], body: [
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key": .string(key), "models": ["gpt-4o"],
        ])
        #expect(created.status == 201)
        #expect(!created.body.encodedString().contains(key))
        #expect(created.body["has_api_key"] == true)
        for response in [
            await h.call(.listProviders, token: world.runnerToken, params: ["project": "p"]),
            await h.call(.getProvider, token: world.runnerToken, params: ["project": "p", "provider": "openai"]),
        ] {
            #expect(response.status == 200)
            #expect(!response.body.encodedString().contains(key))
        }
        // Not in the database file in clear, WAL included.
        _ = try await sqlite.writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        for suffix in ["", "-wal"] {
            let bytes = FileManager.default.contents(atPath: path + suffix) ?? Data()
            #expect(bytes.range(of: Data(key.utf8)) == nil, "the key is in clear in \(path + suffix)")
        }
        let revealed = await h.call(.revealProvider, token: world.runnerToken, params: ["project": "p", "provider": "openai"])
        #expect(revealed.body["api_key"]?.stringValue == key)
        let audit = try h.store.auditEntries(action: "provider.reveal", beforeSeq: nil, limit: 5)
        #expect(audit.count == 1)
        #expect(!audit[0].detail.values.contains(.string(key)))

        // A sealed value moved onto another record does not open there.
        let box = SecretBox(key: h.secretKey)
        let sealed = try box.seal("k", context: "a")
        #expect(throws: SecretBox.OpenError.self) { try box.open(sealed, context: "b") }

        // Agents keep their history.
        let agent = await h.call(.createAgent, token: world.token, params: ["project": "p"], body: [
            "name": "helper", "provider": "openai", "model": "gpt-4o", "system_prompt": "one",
        ])
        #expect(agent.status == 201)
        #expect(await h.call(.createAgent, token: world.token, params: ["project": "p"], body: ["name": "x", "provider": "openai", "model": "other"]).status == 400)
        let updated = await h.call(.updateAgent, token: world.token, params: ["project": "p", "agent": "helper"], body: ["system_prompt": "two"])
        #expect(updated.body["version"] == 2)
        let history = await h.call(.listAgentVersions, token: world.runnerToken, params: ["project": "p", "agent": "helper"])
        #expect(history.body["versions"]?.arrayValue?.compactMap { $0["system_prompt"]?.stringValue } == ["two", "one"])
    }

    @Test func filesAreContentAddressedLimitedAndCleanedUp() async throws {
        var limits = APIHandler.Limits()
        limits.maxFileBytes = 1024
        let harness = try await APIHarness(limits: limits)
        let owner = try harness.user("owner")
        _ = try harness.store.createProject(name: "p", owner: owner.id)
        let token = try await harness.token(for: owner)
        let bytes = Data("same bytes".utf8)
        let a = await harness.call(.uploadFile, token: token, params: ["project": "p", "name": "a.txt"], raw: bytes)
        let b = await harness.call(.uploadFile, token: token, params: ["project": "p", "name": "b.txt"], raw: bytes)
        #expect(a.status == 201 && b.status == 201)
        let sha = try #require(a.body["sha256"]?.stringValue)
        #expect(sha == ContentHash.sha256Hex(bytes))
        #expect(b.body["sha256"]?.stringValue == sha)
        if harness.blobs is DirectoryBlobStore {
            let blobDir = harness.dataDirectory + "/blobs/" + sha.prefix(2)
            #expect(try FileManager.default.contentsOfDirectory(atPath: blobDir) == [sha], "one blob for the same bytes")
        }
        #expect(try harness.blobs.bytes(sha) == bytes)

        let download = await harness.call(.downloadFile, token: token, params: ["file": a.body["id"]?.stringValue ?? ""])
        #expect(download.raw == bytes)
        #expect(download.headers?["Content-Type"] == "text/plain")

        #expect(await harness.call(.uploadFile, token: token, params: ["project": "p", "name": "big"], raw: Data(count: 1025)).status == 413)
        for name in ["../x", "a/b", ".", "..", ""] {
            #expect(await harness.call(.uploadFile, token: token, params: ["project": "p", "name": name], raw: bytes).status == 400, "\(name)")
        }

        #expect(await harness.call(.deleteFile, token: token, params: ["file": a.body["id"]?.stringValue ?? ""]).status == 204)
        #expect(try harness.blobs.bytes(sha) == bytes, "b still names the bytes")
        #expect(await harness.call(.deleteFile, token: token, params: ["file": b.body["id"]?.stringValue ?? ""]).status == 204)
        #expect(try harness.blobs.bytes(sha) == nil, "nothing names the bytes any more")
        #expect(await harness.call(.getFile, token: token, params: ["file": b.body["id"]?.stringValue ?? ""]).status == 404)
    }

    @Test func jobFileTokensReadOnlyTheirJobsFilesWhileItRuns() async throws {
        let world = try await World.make()
        let h = world.harness
        let mine = await h.call(.uploadFile, token: world.token, params: ["project": "p", "name": "in.csv"], raw: Data("1,2".utf8))
        let other = await h.call(.uploadFile, token: world.token, params: ["project": "p", "name": "secret.txt"], raw: Data("no".utf8))
        let fileID = try #require(mine.body["id"]?.stringValue)
        let job = await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["code": "pass", "files": [.string(fileID)]])
        #expect(job.status == 202)
        #expect(job.body["files"]?.arrayValue?.first?["name"] == "in.csv")
        let jobID = try #require(job.body["id"]?.stringValue)
        let running = try #require(try h.store.assign(jobID: jobID, workerID: "w", workerName: "w"))
        let token = h.fileTokens.issue(jobID: jobID, attempt: running.attempts, expires: Date().addingTimeInterval(60))

        let fetched = await h.call(.downloadFile, token: token, params: ["file": fileID])
        #expect(fetched.status == 200)
        #expect(fetched.raw == Data("1,2".utf8))
        #expect(await h.call(.downloadFile, token: token, params: ["file": other.body["id"]?.stringValue ?? ""]).status == 404)
        #expect(await h.call(.getFile, token: token, params: ["file": fileID]).status == 401, "a file token is good for nothing else")
        #expect(await h.call(.me, token: token).status == 401)
        let stale = h.fileTokens.issue(jobID: jobID, attempt: running.attempts + 1, expires: Date().addingTimeInterval(60))
        #expect(await h.call(.downloadFile, token: stale, params: ["file": fileID]).status == 401)
        let expired = h.fileTokens.issue(jobID: jobID, attempt: running.attempts, expires: Date().addingTimeInterval(-1))
        #expect(await h.call(.downloadFile, token: expired, params: ["file": fileID]).status == 401)
        _ = try h.store.cancel(jobID: jobID)
        #expect(await h.call(.downloadFile, token: token, params: ["file": fileID]).status == 401, "not after the job ended")

        #expect(await h.call(.submitJob, token: world.runnerToken, params: ["project": "p"], body: ["code": "pass", "files": ["nope"]]).status == 400)
    }

    @Test func runRecordsAreIdempotentAndListedAsLocalJobs() async throws {
        let world = try await World.make()
        let h = world.harness
        let record: JSONValue = [
            "id": "laptop-run-1", "skill": "sum", "version": 1, "inputs": ["n": 3], "status": "succeeded", "result": 3,
            "stdout": "ok\n", "started_at": "2026-11-24T10:00:00Z", "finished_at": "2026-11-24T10:00:01.5Z", "device": "laptop",
        ]
        let first = await h.call(.createRuns, token: world.runnerToken, params: ["project": "p"], body: [record])
        #expect(first.status == 200)
        #expect(first.body["runs"]?.arrayValue?.first?["created"] == true)
        let again = await h.call(.createRuns, token: world.runnerToken, params: ["project": "p"], body: ["runs": [record]])
        #expect(again.body["runs"]?.arrayValue?.first?["created"] == false)
        #expect(again.body["runs"]?.arrayValue?.first?["job_id"] == first.body["runs"]?.arrayValue?.first?["job_id"])

        let local = await h.call(.listJobs, token: world.runnerToken, params: ["project": "p", "origin": "local"])
        let jobs = try #require(local.body["jobs"]?.arrayValue)
        #expect(jobs.count == 1)
        #expect(jobs[0]["origin"] == "local")
        #expect(jobs[0]["device"] == "laptop")
        #expect(jobs[0]["duration_ms"] == 1500)
        #expect(jobs[0]["output_truncated"] == false)
        #expect(await h.call(.listJobs, token: world.runnerToken, params: ["project": "p", "origin": "server"]).body["jobs"]?.arrayValue?.count == 0)
        // A desktop that cut a record to fit says so.
        let cut = await h.call(.createRuns, token: world.runnerToken, params: ["project": "p"], body: [
            ["id": "laptop-run-2", "status": "failed", "stdout": "partial", "output_truncated": true],
        ])
        let cutID = try #require(cut.body["runs"]?.arrayValue?.first?["job_id"]?.stringValue)
        #expect(await h.call(.getJob, token: world.runnerToken, params: ["id": cutID]).body["output_truncated"] == true)

        for bad: JSONValue in [[["status": "succeeded"]], [["id": "x", "status": "running"]], [], ["id": "x", "status": "done"], [["id": "x", "status": "failed", "started_at": "yesterday"]]] {
            let answer = await h.call(.createRuns, token: world.runnerToken, params: ["project": "p"], body: bad)
            #expect(answer.status == 400, "\(bad): \(answer.status) \(answer.body)")
        }
    }

    @Test func aMemberOfOneProjectCannotReachAnotherByGuessingIDs() async throws {
        let harness = try await APIHarness()
        let alice = try harness.user("alice")
        let bob = try harness.user("bob")
        _ = try harness.store.createProject(name: "a", owner: alice.id)
        _ = try harness.store.createProject(name: "b", owner: bob.id)
        let aliceToken = try await harness.token(for: alice)
        let bobToken = try await harness.token(for: bob)
        let job = await harness.call(.submitJob, token: bobToken, params: ["project": "b"], body: ["code": "pass"])
        let file = await harness.call(.uploadFile, token: bobToken, params: ["project": "b", "name": "f"], raw: Data("x".utf8))
        let session = await harness.call(.createSession, token: bobToken, params: ["project": "b"], body: ["title": "t"])
        _ = await harness.call(.createProvider, token: bobToken, params: ["project": "b"], body: ["name": "k", "kind": "openai", "base_url": "https://x.example.com", "api_key": "s"])
        _ = await harness.call(.createSkill, token: bobToken, params: ["project": "b"], body: ["name": "s", "code": "pass"])
        let jobID = job.body["id"]?.stringValue ?? ""
        let fileID = file.body["id"]?.stringValue ?? ""
        let sessionID = session.body["id"]?.stringValue ?? ""
        let projectID = try #require(try harness.store.project(idOrName: "b")?.id)

        let attempts: [(APIOperation, [String: String], JSONValue?)] = [
            (.getProject, ["project": "b"], nil), (.getProject, ["project": projectID], nil),
            (.listJobs, ["project": "b"], nil), (.submitJob, ["project": "b"], ["code": "pass"]),
            (.getJob, ["id": jobID], nil), (.cancelJob, ["id": jobID], nil),
            (.getFile, ["file": fileID], nil), (.downloadFile, ["file": fileID], nil), (.deleteFile, ["file": fileID], nil),
            (.getSession, ["session": sessionID], nil), (.listMessages, ["session": sessionID], nil),
            (.createMessage, ["session": sessionID], ["role": "user", "content": "x"]),
            (.revealProvider, ["project": "b", "provider": "k"], nil), (.listSkills, ["project": "b"], nil),
            (.getSkill, ["project": "b", "skill": "s"], nil), (.deleteProject, ["project": "b"], nil),
            (.setProjectMember, ["project": "b"], ["email": "alice@example.com", "role": "owner"]),
        ]
        for (operation, params, body) in attempts {
            let response = await harness.call(operation, token: aliceToken, params: params, body: body)
            #expect(response.status == 404, "\(operation.rawValue) \(params) → \(response.status)")
        }
        // Nor through her own project: B's file and session are not A's.
        #expect(await harness.call(.submitJob, token: aliceToken, params: ["project": "a"], body: ["code": "pass", "files": [.string(fileID)]]).status == 400)
        #expect(await harness.call(.submitJob, token: aliceToken, params: ["project": "a"], body: ["code": "pass", "session_id": .string(sessionID)]).status == 400)
        let projects = await harness.call(.listProjects, token: aliceToken)
        #expect(projects.body["projects"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["a"])
    }

    @Test func teamOwnersOwnTheTeamsProjectsAndProjectsKeepAnOwner() async throws {
        let harness = try await APIHarness()
        let lead = try harness.user("lead")
        let dev = try harness.user("dev")
        let leadToken = try await harness.token(for: lead)
        let devToken = try await harness.token(for: dev)
        #expect(await harness.call(.createTeam, token: leadToken, body: ["name": "ml"]).status == 201)
        #expect(await harness.call(.addTeamMember, token: leadToken, params: ["team": "ml"], body: ["email": "dev@example.com"]).status == 200)
        // dev makes a project in the team; the team's owner owns it too.
        let project = await harness.call(.createProject, token: devToken, body: ["name": "exp", "team": "ml"])
        #expect(project.status == 201)
        let asLead = await harness.call(.getProject, token: leadToken, params: ["project": "exp"])
        #expect(asLead.body["role"] == "owner")
        #expect(await harness.call(.setProjectMember, token: leadToken, params: ["project": "exp"], body: ["email": "lead@example.com", "role": "viewer"]).status == 200)
        // The last explicit owner cannot leave or be demoted.
        #expect(await harness.call(.removeProjectMember, token: devToken, params: ["project": "exp", "user": dev.id]).status == 409)
        #expect(await harness.call(.setProjectMember, token: devToken, params: ["project": "exp"], body: ["email": "dev@example.com", "role": "editor"]).status == 409)
        #expect(await harness.call(.removeTeamMember, token: leadToken, params: ["team": "ml", "user": lead.id]).status == 409)
        // Not a member of team ml: cannot put projects in it, cannot see it.
        let stranger = try harness.user("stranger")
        let strangerToken = try await harness.token(for: stranger)
        #expect(await harness.call(.createProject, token: strangerToken, body: ["name": "x", "team": "ml"]).status == 404)
        #expect(await harness.call(.getTeam, token: strangerToken, params: ["team": "ml"]).status == 404)
        let audit = try harness.store.auditEntries(action: "project.member_set", beforeSeq: nil, limit: 5)
        #expect(audit.first?.detail["to"] == "viewer")
    }
}

@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import GRDB
import Testing

/// A submit's `dirs`: the folders a desktop shares that a private job sees at /mnt/<name>.
/// Only a private job may name them, by valid and distinct names, at most 16; any other
/// request is a 400 naming the field, and nothing is stored. A desktop's `HELLO` names the
/// folders it shares, which `GET /workers` shows and a submit checks to warn.
@Suite struct SharedFolderServerTests {
    struct World {
        let harness: APIHarness
        let token: String

        static func make() async throws -> World {
            let harness = try await APIHarness()
            let owner = try harness.user("owner")
            let runner = try harness.user("runner")
            let project = try harness.store.createProject(name: "p", owner: owner.id)
            try harness.store.setMember(projectID: project.id, userID: runner.id, role: .runner)
            return World(harness: harness, token: try await harness.token(for: runner))
        }

        func submit(_ body: JSONValue) async -> HarnessReply {
            await harness.call(.submitJob, token: token, params: ["project": "p"], body: body)
        }

        var queuedCount: Int { harness.recorder.events.withLock { $0.count } }
    }

    @Test func aPrivateJobNamesFoldersAndShowsThem() async throws {
        let world = try await World.make()
        let h = world.harness
        let sixteen = (1...16).map { JSONValue.string("d\($0)") }
        var submitted: [String: JSONValue] = [:]
        for dirs: JSONValue in [["photos", "out.v2", "_raw-1"], .array(sixteen)] {
            let reply = await world.submit(["code": "pass", "target": "private", "dirs": dirs])
            #expect(reply.status == 202 && reply.body["dirs"] == dirs, "\(reply.body)")
            let id = try #require(reply.body["id"]?.stringValue)
            submitted[id] = dirs
            #expect(try h.store.job(id: id)?.dirs == dirs.arrayValue?.compactMap(\.stringValue))
            #expect(await h.call(.getJob, token: world.token, params: ["id": id]).body["dirs"] == dirs)
        }
        let listed = await h.call(.listJobs, token: world.token, params: ["project": "p"])
        let items = listed.body["jobs"]?.arrayValue ?? []
        #expect(Dictionary(uniqueKeysWithValues: items.compactMap { item in item["id"]?.stringValue.map { ($0, item["dirs"] ?? .null) } }) == submitted)

        // A job that names none shows an empty list, whatever its target; so does `dirs: []`.
        for body: JSONValue in [["code": "pass"], ["code": "pass", "dirs": []], ["code": "pass", "target": "private", "dirs": []]] {
            let reply = await world.submit(body)
            #expect(reply.status == 202 && reply.body["dirs"] == [], "\(reply.body)")
        }
    }

    @Test(arguments: [
        (["code": "pass", "dirs": ["photos"]], "dirs", "target \"private\""),
        (["code": "pass", "target": "cloud", "dirs": ["photos"]], "dirs", "cloud workers share no folders"),
        (["code": "pass", "target": "private", "dirs": ["ok", ".."]], "dirs[1]", "is not a folder name"),
        (["code": "pass", "target": "private", "dirs": ["."]], "dirs[0]", "is not a folder name"),
        (["code": "pass", "target": "private", "dirs": [""]], "dirs[0]", "is not a folder name"),
        (["code": "pass", "target": "private", "dirs": ["home/me"]], "dirs[0]", "the last part of its path"),
        (["code": "pass", "target": "private", "dirs": ["/etc"]], "dirs[0]", "is not a folder name"),
        (["code": "pass", "target": "private", "dirs": ["my photos"]], "dirs[0]", "is not a folder name"),
        (["code": "pass", "target": "private", "dirs": [.string(String(repeating: "x", count: 65))]], "dirs[0]", "1-64"),
        (["code": "pass", "target": "private", "dirs": ["a", "b", "a"]], "dirs[2]", "names a twice"),
        (["code": "pass", "target": "private", "dirs": .array((1...17).map { .string("d\($0)") })], "dirs", "at most 16 folders"),
    ] as [(JSONValue, String, String)])
    func anythingElseIsRefusedAndNothingStored(body: JSONValue, path: String, message: String) async throws {
        let world = try await World.make()
        let reply = await world.submit(body)
        #expect(reply.status == 400 && reply.errorCode == "invalid_request", "\(reply.body)")
        #expect(reply.body["error"]?["path"]?.stringValue == path, "\(reply.body)")
        #expect(reply.body["error"]?["message"]?.stringValue?.contains(message) == true, "\(reply.body)")
        #expect(world.queuedCount == 0)
        let project = try #require(try world.harness.store.project(idOrName: "p"))
        #expect(try world.harness.store.jobs(projectID: project.id, status: nil, origin: nil, after: nil, limit: 10).isEmpty)
    }

    @Test(arguments: [
        ["code": "pass", "target": "private", "dirs": "photos"],
        ["code": "pass", "target": "private", "dirs": [1]],
        ["code": "pass", "target": "private", "dirs": [nil]],
        ["code": "pass", "target": "private", "dirs": ["photos": true]],
    ] as [JSONValue])
    func dirsOfTheWrongShapeAreA400(body: JSONValue) async throws {
        let world = try await World.make()
        let reply = await world.submit(body)
        #expect(reply.status == 400, "\(reply.body)")
        #expect(world.queuedCount == 0)
    }

    @Test func anIdempotentRetryMustNameTheSameFolders() async throws {
        let world = try await World.make()
        let body: JSONValue = ["code": "pass", "target": "private", "dirs": ["a", "b"], "idempotency_key": "k"]
        let first = await world.submit(body)
        #expect(first.status == 202)
        let retry = await world.submit(body)
        #expect(retry.status == 200 && retry.body["id"] == first.body["id"])
        let other = await world.submit(["code": "pass", "target": "private", "dirs": ["a"], "idempotency_key": "k"])
        #expect(other.status == 409, "\(other.body)")
    }

    func hello(_ kind: WorkerKind, folders: [String]?) -> Hello {
        Hello(
            workerID: "w", name: "w", version: "t", slots: 1, labels: [], runtimes: ["python3"], kind: kind,
            credential: WorkerCredential(accessToken: "t"), running: [], folders: folders)
    }

    @Test func aHelloNamesAtMost64DistinctValidFoldersAndOnlyFromADesktop() {
        #expect(BusLoop.problem(with: hello(.private, folders: nil)) == nil)
        #expect(BusLoop.problem(with: hello(.private, folders: ["photos", "out"])) == nil)
        #expect(BusLoop.problem(with: hello(.private, folders: (1...64).map { "d\($0)" })) == nil)
        #expect(BusLoop.problem(with: hello(.cloud, folders: [])) == nil)
        for (kind, folders) in [
            (WorkerKind.private, (1...65).map { "d\($0)" }), (.private, ["a", "a"]), (.private, [".."]), (.private, ["a/b"]), (.cloud, ["photos"]),
        ] {
            let reject = BusLoop.problem(with: hello(kind, folders: folders))
            #expect(reject?.code == Reject.badRequest, "\(kind) \(folders)")
        }
    }

    @Test func aDesktopsFoldersAreListedAndASubmitWarnsWhenNoneSharesThem() async throws {
        let world = try await World.make()
        let h = world.harness
        let runner = try #require(try h.store.user(email: "runner@example.com"))
        let desk = ConnectedWorker(
            identity: [1], workerID: "desk", name: "desk", kind: .private, ownerID: runner.id, labels: [], folders: ["photos", "out"],
            slots: 1, version: "t", connectedAt: Date(), running: [:], lastHeard: Date(), draining: false)
        let cloud = ConnectedWorker(
            identity: [2], workerID: "cloud", name: "cloud", kind: .cloud, ownerID: nil, labels: [], slots: 1,
            version: "t", connectedAt: Date(), running: [:], lastHeard: Date(), draining: false)
        h.directory.publish([desk, cloud])
        let admin = try await h.token(for: h.user("admin", role: .admin))
        let listed = await h.call(.listWorkers, token: admin)
        let workers = Dictionary(uniqueKeysWithValues: (listed.body["workers"]?.arrayValue ?? []).compactMap { w in w["id"]?.stringValue.map { ($0, w) } })
        #expect(workers["desk"]?["folders"] == ["out", "photos"])
        #expect(workers["cloud"]?["folders"] == nil, "a cloud worker shares none")

        let shared = await world.submit(["code": "pass", "target": "private", "dirs": ["photos"]])
        #expect(shared.status == 202 && shared.body["warnings"] == nil, "\(shared.body)")
        let unshared = await world.submit(["code": "pass", "target": "private", "dirs": ["photos", "taxes"]])
        #expect(unshared.status == 202)
        let warning = unshared.body["warnings"]?.arrayValue?.first?.stringValue ?? ""
        #expect(warning.contains("shares every folder in dirs (photos, taxes)") && warning.contains("folder_not_shared"), "\(unshared.body)")
    }
}

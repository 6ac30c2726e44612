import AgentOSAPI
import AgentOSAuth
@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// Every route, called by every role, against the expected status. The expectations are
/// written out per operation, so a new route without a rule here fails the test.
@Suite struct AccessMatrixTests {
    /// Callers in the order of the expectation arrays.
    enum Role: String, CaseIterable { case outsider, viewer, runner, editor, owner, admin }

    /// A project with one member per role, and one of everything in it.
    struct Fixture {
        let harness: APIHarness
        let users: [Role: User]
        let tokens: [Role: String]
        let refreshTokens: [Role: String]
        let personalTokens: [Role: String]
        let project: Project
        let team: Team
        let jobID: String
        let fileID: String
        let sessionID: String
        let workerTokenID: String

        static let passwordHash = Passwords(cost: 4).hash("password-1")

        static func make() async throws -> Fixture {
            let harness = try await APIHarness()
            let store = harness.store
            var users: [Role: User] = [:]
            var tokens: [Role: String] = [:]
            var refreshTokens: [Role: String] = [:]
            var personalTokens: [Role: String] = [:]
            for role in Role.allCases {
                let user = try store.createUser(User(
                    email: "\(role.rawValue)@example.com", name: role.rawValue, passwordHash: passwordHash,
                    role: role == .admin ? .admin : .user))
                users[role] = user
                let session = AuthSession(userID: user.id, lifetime: 3600, address: nil)
                let refresh = "aos_rt_" + UUID().uuidString
                try store.createSession(session, refreshTokenHash: SecretToken.hash(refresh))
                refreshTokens[role] = refresh
                tokens[role] = try await harness.tokens.issue(userID: user.id, sessionID: session.id)
                personalTokens[role] = try store.createPersonalToken(PersonalToken(
                    userID: user.id, name: "t", tokenHash: SecretToken.hash(UUID().uuidString), prefix: "aos_pat_x", expiresAt: nil)).id
            }
            let owner = users[.owner]!
            let project = try store.createProject(name: "p", owner: owner.id)
            for role in [Role.viewer, .runner, .editor] {
                try store.setMember(projectID: project.id, userID: users[role]!.id, role: ProjectRole(rawValue: role.rawValue)!)
            }
            let team = try store.createTeam(name: "t", owner: owner.id)
            try store.setTeamMember(teamID: team.id, userID: users[.editor]!.id, role: .member)
            let content = SkillContent(description: "d", code: "def main(): return 1", entrypoint: "main", requirements: "", inputSchema: nil, limits: nil)
            _ = try store.createSkill(projectID: project.id, name: "s", content: content, author: owner.id)
            try store.createProvider(Provider(
                projectID: project.id, name: "prov", kind: "openai", baseURL: "https://api.example.com", models: ["m"],
                apiKeySealed: Data([1, 2, 3]), createdBy: owner.id))
            _ = try store.createAgent(
                projectID: project.id, name: "ag", settings: AgentSettings(provider: "prov", model: "m", systemPrompt: "", skills: [], params: [:]),
                by: owner.id)
            let session = try store.createChatSession(ChatSession(projectID: project.id, title: "c", agent: nil, createdBy: owner.id))
            _ = try store.appendMessage(sessionID: session.id, role: .user, content: "hi", jobID: nil, by: owner.id)
            let job = try store.submit(Job(projectID: project.id, code: "pass", inputs: [:], target: .cloud, submittedBy: users[.runner]!.id)).job
            let file = try harness.blobs.addFile(Data("hello".utf8)) { sha in
                StoredFile(projectID: project.id, name: "a.txt", sha256: sha, size: 5, contentType: "text/plain", createdBy: owner.id)
            }
            let workerToken = try store.createWorkerToken(WorkerToken(name: "w", tokenHash: SecretToken.hash("w")))
            return Fixture(
                harness: harness, users: users, tokens: tokens, refreshTokens: refreshTokens, personalTokens: personalTokens,
                project: project, team: team, jobID: job.id, fileID: file.id, sessionID: session.id, workerTokenID: workerToken.id)
        }

        /// A request for `operation` that only the caller's rights can fail.
        func request(_ operation: APIOperation, as role: Role, unique: String) -> (params: [String: String], body: JSONValue?, raw: Data?) {
            let p = ["project": "p"]
            switch operation {
            case .health, .metrics, .me, .logout, .listUsers, .listTokens, .listTeams, .listProjects, .listWorkers, .listWorkerTokens, .cluster, .audit:
                return ([:], nil, nil)
            case .login: return ([:], ["email": .string("\(role.rawValue)@example.com"), "password": "password-1"], nil)
            case .refresh: return ([:], ["refresh_token": .string(refreshTokens[role]!)], nil)
            case .createUser: return ([:], ["email": .string("new-\(unique)@example.com"), "password": "password-2"], nil)
            case .updateUser: return (["user": users[.outsider]!.id], ["name": "Renamed"], nil)
            case .createToken: return ([:], ["name": "ci"], nil)
            case .deleteToken: return (["token": personalTokens[role]!], nil, nil)
            case .createTeam: return ([:], ["name": .string("team-\(unique)")], nil)
            case .getTeam: return (["team": "t"], nil, nil)
            case .addTeamMember: return (["team": "t"], ["email": "viewer@example.com", "role": "member"], nil)
            case .removeTeamMember: return (["team": "t", "user": users[.editor]!.id], nil, nil)
            case .createProject: return ([:], ["name": .string("project-\(unique)")], nil)
            case .updateProject: return (p, ["allow_network": true], nil)
            case .getProject, .deleteProject, .listSkills, .listProviders, .listAgents, .listJobs, .listSessions, .listFiles:
                return (p, nil, nil)
            case .setProjectMember: return (p, ["email": "outsider@example.com", "role": "viewer"], nil)
            case .removeProjectMember: return (["project": "p", "user": users[.viewer]!.id], nil, nil)
            case .createSkill: return (p, ["name": .string("skill-\(unique)"), "code": "def main(): return 2"], nil)
            case .getSkill, .listSkillVersions: return (["project": "p", "skill": "s"], nil, nil)
            case .createSkillVersion: return (["project": "p", "skill": "s"], ["code": .string("def main(): return '\(unique)'")], nil)
            case .getSkillVersion: return (["project": "p", "skill": "s", "version": "1"], nil, nil)
            case .createProvider:
                return (p, ["name": .string("prov-\(unique)"), "kind": "openai", "base_url": "https://x.example.com", "api_key": "sk-1"], nil)
            case .getProvider, .revealProvider: return (["project": "p", "provider": "prov"], nil, nil)
            case .updateProvider: return (["project": "p", "provider": "prov"], ["models": ["m", "n"]], nil)
            case .createAgent: return (p, ["name": .string("agent-\(unique)"), "provider": "prov", "model": "m"], nil)
            case .getAgent, .listAgentVersions: return (["project": "p", "agent": "ag"], nil, nil)
            case .updateAgent: return (["project": "p", "agent": "ag"], ["system_prompt": .string("be brief \(unique)")], nil)
            case .submitJob: return (p, ["code": "pass"], nil)
            case .getJob, .getJobOutput, .cancelJob: return (["id": jobID], nil, nil)
            case .createRuns: return (p, [["id": .string("run-\(unique)"), "status": "succeeded", "skill": "s"]], nil)
            case .createSession: return (p, ["title": "hello"], nil)
            case .getSession, .listMessages: return (["session": sessionID], nil, nil)
            case .createMessage: return (["session": sessionID], ["role": "user", "content": "hello"], nil)
            case .uploadFile: return (["project": "p", "name": "up.txt"], nil, Data("bytes".utf8))
            case .getFile, .downloadFile, .deleteFile: return (["file": fileID], nil, nil)
            case .createWorkerToken: return ([:], ["name": "extra"], nil)
            case .deleteWorkerToken: return (["token": workerTokenID], nil, nil)
            }
        }
    }

    /// Expected status per role: outsider, viewer, runner, editor, owner, admin.
    static let expected: [APIOperation: [Int]] = {
        let everyone = { (status: Int) in [status, status, status, status, status, status] }
        let adminOnly = { (status: Int) in [403, 403, 403, 403, 403, status] }
        let read = { (status: Int) in [404, status, status, status, status, status] }
        let runner = { (status: Int) in [404, 403, status, status, status, status] }
        let editor = { (status: Int) in [404, 403, 403, status, status, status] }
        let owner = { (status: Int) in [404, 403, 403, 403, status, status] }
        return [
            .health: everyone(200), .metrics: everyone(200), .login: everyone(200), .refresh: everyone(200), .logout: everyone(204), .me: everyone(200),
            .listUsers: adminOnly(200), .createUser: adminOnly(201), .updateUser: adminOnly(200),
            .createToken: everyone(201), .listTokens: everyone(200), .deleteToken: everyone(204),
            .listTeams: everyone(200), .createTeam: everyone(201),
            // Team t: owner owns it, editor is a member, the rest are not in it.
            .getTeam: [404, 404, 404, 200, 200, 200],
            .addTeamMember: [404, 404, 404, 403, 200, 200],
            .removeTeamMember: [404, 404, 404, 403, 204, 204],
            .listProjects: everyone(200), .createProject: everyone(201), .getProject: read(200),
            .deleteProject: owner(204), .setProjectMember: owner(200), .removeProjectMember: owner(204),
            .updateProject: [404, 403, 403, 403, 403, 200],
            .listSkills: read(200), .createSkill: editor(201), .getSkill: read(200), .createSkillVersion: editor(201),
            .listSkillVersions: read(200), .getSkillVersion: read(200),
            .listProviders: read(200), .createProvider: editor(201), .getProvider: read(200), .updateProvider: editor(200),
            .revealProvider: runner(409),  // the fixture's sealed key is junk: allowed callers get past the check to 409
            .listAgents: read(200), .createAgent: editor(201), .getAgent: read(200), .updateAgent: editor(200),
            .listAgentVersions: read(200),
            .submitJob: runner(202), .getJob: read(200), .getJobOutput: read(200), .listJobs: read(200),
            .cancelJob: runner(200),  // the job is the runner's own
            .createRuns: runner(200),
            .listSessions: read(200), .createSession: runner(201), .getSession: read(200), .listMessages: read(200),
            .createMessage: runner(201),
            .uploadFile: editor(201), .listFiles: read(200), .getFile: read(200), .downloadFile: read(200), .deleteFile: editor(204),
            .listWorkers: everyone(200), .listWorkerTokens: adminOnly(200), .createWorkerToken: adminOnly(201),
            .deleteWorkerToken: adminOnly(204), .cluster: everyone(200), .audit: adminOnly(200),
        ]
    }()

    @Test func everyRouteHasARule() {
        let missing = APIRoutes.all.map(\.operation).filter { Self.expected[$0] == nil }
        #expect(missing.isEmpty, "routes without an expected status per role: \(missing.map(\.rawValue))")
        #expect(Set(APIRoutes.all.map(\.operation)).count == APIRoutes.all.count, "two routes share an operation")
    }

    /// The answer's status is documented for its operation and its body matches the
    /// documented schema, with no undocumented field.
    func conforms(_ operation: APIOperation, _ response: HarnessReply) {
        // The server's health check and metrics are the gateway's /healthz and /metrics,
        // documented with the gateway's answers.
        guard operation != .health, operation != .metrics else { return }
        let body: JSONValue? = response.headers?["Content-Type"] == "application/json" ? response.body : nil
        do {
            try OpenAPIDocument.check(operation, status: response.status, body: body)
        } catch {
            Issue.record("\(error)\n\(response.body.encodedString().prefix(400))")
        }
    }

    @Test func everyRouteWithEveryRole() async throws {
        let shared = try await Fixture.make()
        var counter = 0
        for operation in APIRoutes.all.map(\.operation) + [.health, .metrics] {
            guard let statuses = Self.expected[operation] else { continue }
            let mutates = APIRoutes.all.first { $0.operation == operation }.map { $0.method != "GET" } ?? false
            for (index, role) in Role.allCases.enumerated() {
                // Writes get a fresh world each time, so one role's change cannot decide another's answer.
                let fixture = mutates ? try await Fixture.make() : shared
                counter += 1
                let (params, body, raw) = fixture.request(operation, as: role, unique: String(counter))
                let token = operation == .login || operation == .refresh ? nil : fixture.tokens[role]
                let response = await fixture.harness.call(operation, token: token, params: params, body: body, raw: raw)
                #expect(response.status == statuses[index], "\(operation.rawValue) as \(role.rawValue): \(response.status) \(response.body.encodedString().prefix(300))")
                conforms(operation, response)
            }
        }
    }

    @Test func everyRouteButLoginRefusesAnonymousAndForgedCallers() async throws {
        let fixture = try await Fixture.make()
        for route in APIRoutes.all where ![.login, .refresh].contains(route.operation) {
            let (params, body, raw) = fixture.request(route.operation, as: .admin, unique: "x")
            for token in [nil, "", "garbage", "aos_pat_" + UUID().uuidString, "aosjob_eA.eA"] {
                let response = await fixture.harness.call(route.operation, token: token, params: params, body: body, raw: raw)
                #expect(response.status == 401, "\(route.operation.rawValue) with \(token ?? "no token") → \(response.status)")
                conforms(route.operation, response)
                #expect(response.errorCode == "unauthorized")
            }
        }
    }
}

import AgentOSAPI
import AgentOSGateway
import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The control plane through real processes, as a new user meets it: a team and a project,
/// a runner invited, a skill pushed with the CLI and run by name, the run in the history,
/// a runner who cannot edit the skill and an outsider who cannot see the project. Every
/// answer is also checked against the API document's schemas.
@Suite struct ControlPlaneTests {
    /// Checks `value` against a schema of the OpenAPI document.
    func conforms(_ value: JSONValue, to schema: String, _ context: String) {
        do {
            try JSONSchema(["$ref": .string("#/components/schemas/\(schema)")], root: OpenAPIDocument.json).validate(value)
        } catch {
            Issue.record("\(context) does not match the document's \(schema): \(error)\n\(value.encodedString().prefix(500))")
        }
    }

    @Test func teamProjectRunnerSkillAndHistory() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        try await cluster.startWorker("w1", slots: 2)
        try await cluster.waitForWorkers(["w1"], token: admin)

        for email in ["runner@example.com", "outsider@example.com"] {
            let (status, user) = try await cluster.http("POST", "/api/v1/users", body: ["email": .string(email), "password": "password-1", "name": "R"], token: admin)
            #expect(status == 201)
            conforms(user, to: "User", "POST /users")
        }
        let (teamStatus, team) = try await cluster.http("POST", "/api/v1/teams", body: ["name": "ml"], token: admin)
        #expect(teamStatus == 201)
        conforms(team, to: "Team", "POST /teams")
        let (projectStatus, project) = try await cluster.http("POST", "/api/v1/projects", body: ["name": "exp", "team": "ml"], token: admin)
        #expect(projectStatus == 201)
        conforms(project, to: "Project", "POST /projects")
        let (memberStatus, _) = try await cluster.http(
            "PUT", "/api/v1/projects/exp/members", body: ["email": "runner@example.com", "role": "runner"], token: admin)
        #expect(memberStatus == 200)

        // Push a skill from a folder with the CLI, as the admin.
        let skillDirectory = cluster.directory.appendingPathComponent("sum-skill").path
        try FileManager.default.createDirectory(atPath: skillDirectory, withIntermediateDirectories: true)
        try """
            name: sum
            description: Adds the numbers below n
            input_schema:
              type: object
              required: [n]
              properties:
                n: {type: integer, minimum: 0}
            limits:
              timeout_s: 20
            """.write(toFile: skillDirectory + "/skill.yaml", atomically: true, encoding: .utf8)
        try "def main(n):\n    return sum(range(n))\n".write(toFile: skillDirectory + "/main.py", atomically: true, encoding: .utf8)
        let (loginStatus, loginOutput) = try await cluster.cli(
            "login-admin", ["login", "--gateway", cluster.gatewayURL, "--email", "admin@localhost"], config: "admin-config",
            environment: ["AGENTOS_PASSWORD": cluster.adminPassword])
        #expect(loginStatus == 0, "\(loginOutput)")
        let (pushStatus, pushOutput) = try await cluster.cli("push-1", ["skills", "push", skillDirectory, "--project", "exp"], config: "admin-config")
        #expect(pushStatus == 0)
        #expect(pushOutput.contains("pushed sum version 1"), "\(pushOutput)")
        let (_, again) = try await cluster.cli("push-2", ["skills", "push", skillDirectory, "--project", "exp"], config: "admin-config")
        #expect(again.contains("sum is unchanged: version 1"), "\(again)")

        // The runner runs it by name over HTTP.
        let runner = try await cluster.login("runner@example.com", password: "password-1")
        let (runStatus, job) = try await cluster.http(
            "POST", "/api/v1/projects/exp/jobs?wait=30", body: ["skill": "sum", "inputs": ["n": 1000]], token: runner)
        #expect(runStatus == 200, "\(job)")
        #expect(job["status"] == "succeeded")
        #expect(job["result"] == 499500)
        #expect(job["skill"] == "sum")
        #expect(job["version"] == 1)
        conforms(job, to: "Job", "POST /jobs")
        let (badStatus, bad) = try await cluster.http("POST", "/api/v1/projects/exp/jobs", body: ["skill": "sum", "inputs": ["n": "x"]], token: runner)
        #expect(badStatus == 400)
        #expect(bad["error"]?["path"] == "inputs/n")
        conforms(bad, to: "Error", "a 400")

        // The run is in the project's history.
        let (_, history) = try await cluster.http("GET", "/api/v1/projects/exp/jobs", token: runner)
        #expect(history["jobs"]?.arrayValue?.contains { $0["id"] == job["id"] && $0["skill"] == "sum" } == true)
        for item in history["jobs"]?.arrayValue ?? [] { conforms(item, to: "Job", "GET /projects/exp/jobs item") }

        // The runner may not edit the skill; an outsider cannot see the project at all.
        let (editStatus, _) = try await cluster.http(
            "POST", "/api/v1/projects/exp/skills/sum/versions", body: ["code": "def main(n): return 0"], token: runner)
        #expect(editStatus == 403)
        let outsider = try await cluster.login("outsider@example.com", password: "password-1")
        #expect(try await cluster.http("GET", "/api/v1/projects/exp", token: outsider).0 == 404)
        #expect(try await cluster.http("GET", "/api/v1/jobs/\(job["id"]?.stringValue ?? "")", token: outsider).0 == 404)

        // The CLI as the runner: submit by name and wait.
        let (runnerLogin, _) = try await cluster.cli(
            "login-runner", ["login", "--gateway", cluster.gatewayURL, "--email", "runner@example.com"], config: "runner-config",
            environment: ["AGENTOS_PASSWORD": "password-1"])
        #expect(runnerLogin == 0)
        let (submitStatus, submitOutput) = try await cluster.cli(
            "submit-skill", ["submit", "--project", "exp", "--skill", "sum@1", "--input", #"{"n": 10}"#, "--wait"], config: "runner-config")
        #expect(submitStatus == 0, "\(submitOutput)")
        #expect(submitOutput.contains("45"), "\(submitOutput)")

        // The audit log saw the membership change and the failed login below.
        _ = try await cluster.http("POST", "/api/v1/auth/login", body: ["email": "runner@example.com", "password": "wrong"])
        let (_, audit) = try await cluster.http("GET", "/api/v1/audit", token: admin)
        let actions = Set((audit["entries"]?.arrayValue ?? []).compactMap { $0["action"]?.stringValue })
        #expect(actions.isSuperset(of: ["auth.login", "auth.login_failed", "project.member_set", "team.create", "user.create"]), "\(actions)")
        #expect(try await cluster.http("GET", "/api/v1/audit", token: runner).0 == 403)
    }

    @Test func aJobGetsItsFilesReadOnly() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        try await cluster.startWorker("w1")
        try await cluster.waitForWorkers(["w1"], token: admin)
        let content = "name,qty\napples,3\n"
        let (uploadStatus, file) = try await cluster.upload("/api/v1/projects/default/files?name=stock.csv", data: Data(content.utf8), token: admin)
        #expect(uploadStatus == 201)
        conforms(file, to: "File", "POST /files")
        let code = """
            import os
            def main():
                path = "files/stock.csv"
                return {"text": open(path).read(), "mode": oct(os.stat(path).st_mode & 0o777),
                        "dir_mode": oct(os.stat("files").st_mode & 0o777)}
            """
        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": .string(code), "files": [file["id"] ?? .null]], token: admin)
        #expect(status == 200, "\(job)")
        #expect(job["result"]?["text"]?.stringValue == content, "\(job)")
        // Read-only by mode (the plain process engine; root ignores modes, the sandbox of issue 4 binds them read-only).
        #expect(job["result"]?["mode"] == "0o444")
        #expect(job["result"]?["dir_mode"] == "0o555")

        // Its life as Server-Sent Events: status, output and result, then the stream ends.
        var request = URLRequest(url: URL(string: cluster.gatewayURL + "/api/v1/jobs/\(job["id"]?.stringValue ?? "")/events")!, timeoutInterval: 30)
        request.setValue("Bearer \(admin)", forHTTPHeaderField: "Authorization")
        let (stream, streamResponse) = try await URLSession.shared.data(for: request)
        let events = String(decoding: stream, as: UTF8.self)
        #expect((streamResponse as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type") == "text/event-stream")
        #expect(events.contains("event: status\ndata: {"), "\(events)")
        #expect(events.contains("event: output\n") && events.contains("event: result\n"), "\(events)")
        #expect(events.contains("\"status\":\"succeeded\""), "\(events)")
        #expect(try await cluster.http("GET", "/api/v1/jobs/nope/events", token: admin).0 == 404)
        #expect(try await cluster.http("GET", "/api/v1/jobs/nope/events").0 == 401)

        let (deleteStatus, _) = try await cluster.http("DELETE", "/api/v1/files/\(file["id"]?.stringValue ?? "")", token: admin)
        #expect(deleteStatus == 204)
    }
}

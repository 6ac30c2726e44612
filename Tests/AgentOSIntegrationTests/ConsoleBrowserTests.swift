import AgentOSWire
import Foundation
import Testing

/// The web console in a real browser: headless Chromium (Debian's `chromium` and
/// `chromium-driver`, which scripts/test installs) driven by Selenium (from PyPI, into a cached
/// virtualenv) through Tests/browser/console_browser.py, against a real cluster with a
/// sandboxed worker. Logs in, watches a job's output arrive while it runs, cancels a job,
/// shows hostile output as text, runs a skill from the form, reads workers, users and the
/// audit log, and, as a viewer, finds no submit link and sees the API's 403 when it submits
/// anyway. Screenshots go to the test's directory, or to `AGENTOS_CONSOLE_SCREENSHOTS`
/// (docs/ for the README's pictures).
@Suite struct ConsoleBrowserTests {
    static let script = Cluster.repositoryRoot.appendingPathComponent("Tests/browser/console_browser.py").path

    static func tool(_ candidates: [String], hint: String) throws -> String {
        try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) }, "\(hint) is missing: apt-get install chromium chromium-driver (scripts/test does)")
    }

    /// Runs `command` to its end (SIGTERM, then SIGKILL, at the deadline); its status and output.
    func run(_ cluster: Cluster, _ name: String, _ command: [String], environment: [String: String] = [:], timeout: Double) async throws -> (Int32?, String) {
        var full = ProcessInfo.processInfo.environment
        for (key, value) in environment { full[key] = value }
        let process = try TestProcess(
            executable: command[0], arguments: Array(command.dropFirst()), environment: full,
            logPath: cluster.directory.appendingPathComponent("\(name).log").path)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            process.signal(SIGTERM)
            let grace = Date().addingTimeInterval(10)
            while process.isRunning, Date() < grace { try await Task.sleep(for: .milliseconds(100)) }
            process.signal(SIGKILL)
            Issue.record("\(name) did not end within \(Int(timeout)) s")
        }
        return (process.status, cluster.log(name))
    }

    /// A virtualenv with Selenium, made once and kept in the user's cache directory.
    func seleniumPython(_ cluster: Cluster) async throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        let venv = cache + "/agentos-test/selenium-venv"
        let python = venv + "/bin/python"
        if FileManager.default.isExecutableFile(atPath: python),
            try await run(cluster, "selenium-check", [python, "-c", "import selenium"], timeout: 60).0 == 0
        {
            return python
        }
        try FileManager.default.createDirectory(atPath: cache + "/agentos-test", withIntermediateDirectories: true)
        let system = try Self.tool(["/usr/bin/python3"], hint: "python3")
        let made = try await run(cluster, "venv", [system, "-m", "venv", "--clear", venv], timeout: 120)
        try #require(made.0 == 0, "python3 -m venv failed (apt-get install python3-venv): \(made.1)")
        let installed = try await run(cluster, "pip", [venv + "/bin/pip", "install", "--quiet", "selenium"], timeout: 300)
        try #require(installed.0 == 0, "pip install selenium failed: \(installed.1)")
        return python
    }

    @Test func theConsoleWorksInABrowser() async throws {
        let chromium = try Self.tool(["/usr/bin/chromium"], hint: "chromium")
        let chromedriver = try Self.tool(["/usr/bin/chromedriver"], hint: "chromedriver")
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let python = try await seleniumPython(cluster)
        let admin = try await cluster.boot(workers: ["cloud-1": 2])

        // A viewer of the default project, made over the API.
        let viewer = "viewer@example.com"
        let (created, user) = try await cluster.http(
            "POST", "/api/v1/users", body: ["email": .string(viewer), "password": "viewer-pass-1", "name": "Viewer", "role": "user"], token: admin)
        try #require(created == 201, "\(user)")
        let (added, member) = try await cluster.http(
            "PUT", "/api/v1/projects/default/members", body: ["email": .string(viewer), "role": "viewer"], token: admin)
        try #require(added == 200 || added == 201, "\(member)")

        // A skill, for the skills pages and a job by skill.
        let (pushed, skill) = try await cluster.http("POST", "/api/v1/projects/default/skills", body: [
            "name": "greet", "description": "Says hello",
            "code": "def main(name):\n    print('hello', name)\n    return 'hello ' + name\n",
        ], token: admin)
        try #require(pushed == 201, "\(skill)")

        let screenshots = ProcessInfo.processInfo.environment["AGENTOS_CONSOLE_SCREENSHOTS"] ?? cluster.directory.path
        let (status, output) = try await run(cluster, "browser", [python, Self.script], environment: [
            "CONSOLE_URL": cluster.gatewayURL, "ADMIN_EMAIL": "admin@localhost", "ADMIN_PASSWORD": cluster.adminPassword,
            "VIEWER_EMAIL": viewer, "VIEWER_PASSWORD": "viewer-pass-1", "CHROMIUM": chromium, "CHROMEDRIVER": chromedriver,
            "WORK_DIR": cluster.directory.path, "SCREENSHOTS": screenshots,
            // Selenium must use the given driver and browser, never download or report anything.
            "SE_OFFLINE": "true", "SE_AVOID_STATS": "true",
        ], timeout: 420)
        #expect(status == 0, "\(output)\n--- gateway ---\n\(cluster.log("gateway").suffix(3000))")
        #expect(output.contains("console browser test passed"))
    }
}

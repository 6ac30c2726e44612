import AgentOSGateway
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// The web console's files: served without authentication (no server needed), each with its
/// content type and the strict headers, and written so that the policy holds: no inline
/// script or style in the page, no `innerHTML` in the script.
@Suite struct ConsoleTests {
    func withGateway(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        // Nothing listens here: the console must not need the server.
        let configuration = GatewayConfiguration(host: "127.0.0.1", port: 0, serverEndpoint: "tcp://127.0.0.1:9")
        let logger = Logger(label: "test")
        let client = try ServerClient(endpoint: configuration.serverEndpoint, logger: logger)
        let connection = Task { try await client.run() }
        defer { connection.cancel() }
        let app = Application(router: buildGatewayRouter(client: client, configuration: configuration), logger: logger)
        try await app.test(.router) { testClient in try await body(testClient) }
    }

    static let policy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ]

    @Test(arguments: [
        ("/", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
    ])
    func everyFileHasItsTypeAndTheStrictHeaders(path: String, contentType: String) async throws {
        try await withGateway { client in
            let response = try await client.execute(uri: path, method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == contentType)
            let csp = try #require(response.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(Set(csp.components(separatedBy: "; ")) == Set(Self.policy), "\(csp)")
            #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            #expect(response.headers[.cacheControl] == "no-cache")
            #expect(response.body.readableBytes > 100)
        }
    }

    @Test func thePageHasNoInlineScriptOrStyleAndLoadsOnlyItsOwnFiles() async throws {
        try await withGateway { client in
            let page = String(buffer: try await client.execute(uri: "/", method: .get).body)
            #expect(page.hasPrefix("<!doctype html>"))
            // Every <script> has a src and an empty body; no style element or attribute, no handler attribute.
            let scripts = page.components(separatedBy: "<script").dropFirst()
            #expect(scripts.count == 1)
            for script in scripts {
                let tag = try #require(script.components(separatedBy: ">").first)
                #expect(tag.contains("src=\"/console/app.js\""))
                #expect(script.dropFirst(tag.count + 1).hasPrefix("</script>"), "an inline script body")
            }
            #expect(!page.contains("<style"))
            #expect(!page.contains("style="))
            #expect(page.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil, "an inline event handler")
            #expect(page.contains("href=\"/console/app.css\""))
            // Nothing from another origin.
            #expect(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"))
        }
    }

    @Test func theScriptBuildsTheDOMWithoutMarkupAndKeepsTokensOutOfStorage() async throws {
        try await withGateway { client in
            let script = String(buffer: try await client.execute(uri: "/console/app.js", method: .get).body)
            for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                              "localStorage", "sessionStorage", "document.cookie", "EventSource"] {
                #expect(!script.contains(forbidden), "app.js uses \(forbidden)")
            }
            // Its calls go to this origin's API only.
            #expect(script.contains(#"const API = "/api/v1";"#))
            #expect(!script.contains("http://") && !script.contains("https://"))
            let style = String(buffer: try await client.execute(uri: "/console/app.css", method: .get).body)
            #expect(!style.contains("@import") && !style.contains("url("))
        }
    }

    @Test func theConsoleIsNotPartOfTheAPI() async throws {
        try await withGateway { client in
            // An unknown console path is an ordinary 404; the API's paths stay the API's.
            #expect(try await client.execute(uri: "/console/nope.js", method: .get).status == .notFound)
            let api = try await client.execute(uri: "/api/v1/me", method: .get)
            #expect(api.status == .serviceUnavailable)
            #expect(api.headers[HTTPField.Name("Content-Security-Policy")!] == nil)
        }
    }
}

@testable import AgentOSServer
import AgentOSWire
import Foundation
import Testing

/// The API socket's `[tag, header, body]` messages and what the handler makes of their bodies.
@Suite struct APIEnvelopeTests {
    @Test func aBodyFieldOfTheWrongShapeIsA400NamingIt() async throws {
        let harness = try await APIHarness()
        let admin = try harness.user("admin", role: .admin)
        let token = try await harness.token(for: admin)
        _ = try harness.store.createProject(name: "p", owner: admin.id)
        let cases: [(JSONValue, String)] = [
            (["code": "x", "priority": 2.5], "a number in the body does not fit its field"),
            (["code": "x", "target": "moon"], "target must be one of cloud, private"),
            (["code": 5], "code must be a string"),
            (["code": "x", "limits": ["memory_mb": 8]], "limits.memory_mb must be between 16 and 65536"),
        ]
        for (body, message) in cases {
            let reply = await harness.call(.submitJob, token: token, params: ["project": "p"], body: body)
            #expect(reply.status == 400 && reply.errorCode == "invalid_request", "\(body)")
            #expect(reply.body["error"]?["message"]?.stringValue?.hasPrefix(message) == true, "\(body) → \(reply.body)")
        }
        let role = await harness.call(.createUser, token: token, body: ["email": "x@example.com", "password": "password-1", "role": "root"])
        #expect(role.body["error"]?["message"] == "role must be one of admin, user" && role.body["error"]?["path"] == "role")
    }

    @Test func everyOperationHasExactlyOneHandler() async throws {
        let handler = try await APIHarness().handler
        for operation in APIOperation.allCases {
            let owners = handler.claims[operation] ?? []
            if APIHandler.publicOperations.contains(operation) {
                #expect(owners.isEmpty, "\(operation) is answered before authentication, not by \(owners)")
            } else {
                #expect(owners.count == 1, "\(operation) is claimed by \(owners)")
            }
        }
    }

    @Test func requestsAndResponsesSurviveTheWireWithTheirBytesUntouched() throws {
        let bytes = Data([0x00, 0xff, 0xfe, 0x7b, 0x22])
        let request = APIRequest(
            id: "9", operation: .uploadFile, token: "t", params: ["project": "p", "name": "x"], body: bytes,
            contentType: "image/png", client: "10.1.2.3")
        let decoded = try APIRequest(frames: request.frames[...])
        #expect(decoded.body == bytes)
        #expect(decoded.operation == .uploadFile && decoded.params == request.params && decoded.client == "10.1.2.3")
        #expect(decoded.contentType == "image/png" && decoded.token == "t")
        #expect(request.frames[0] == Array(API.protocolTag.utf8))
        #expect(request.frames.count == 3)

        let response = APIResponse(id: "9", status: 200, headers: ["Content-Type": "image/png"], body: bytes)
        let back = try APIResponse(frames: response.frames[...])
        #expect(back.body == bytes && back.status == 200 && back.headers == ["Content-Type": "image/png"])
    }

    @Test(arguments: [
        [[UInt8]](),
        [Array(API.protocolTag.utf8), Array("{\"id\": \"1\"".utf8), []],
        [Array("AOS-API/1".utf8), Array("{\"id\":\"1\",\"op\":\"me\",\"params\":{}}".utf8), []],
        [Array(API.protocolTag.utf8), Array("{\"id\":\"1\",\"op\":\"me\",\"params\":{}}".utf8)],
        [Array(API.protocolTag.utf8), Array("{\"id\":\"1\",\"op\":\"no.such.op\",\"params\":{}}".utf8), []],
    ])
    func malformedMessagesAreRefused(_ frames: [[UInt8]]) {
        #expect(throws: (any Error).self) { try APIRequest(frames: frames[...]) }
    }

    @Test func aJSONRouteWithABodyThatIsNotJSONIs400BeforeAnythingElse() async throws {
        let harness = try await APIHarness()
        for body in ["{not json", "", "\u{1}"] {
            let login = await harness.call(.login, token: nil, raw: Data(body.utf8))
            #expect(login.status == 400, "\(body)")
            #expect(login.errorCode == "invalid_request")
            #expect(login.body["error"]?["message"] == "the request body is not valid JSON")
        }
    }

    @Test func jsonAnswersSayTheirContentTypeAndNoContentHasNoBody() async throws {
        let harness = try await APIHarness()
        let user = try harness.user("ann")
        let token = try await harness.token(for: user)
        let me = await harness.call(.me, token: token)
        #expect(me.status == 200)
        #expect(me.headers?["Content-Type"] == "application/json")
        #expect(me.body["email"] == "ann@example.com")
        let logout = await harness.call(.logout, token: token)
        #expect(logout.status == 204)
        #expect(logout.raw.isEmpty)
        #expect(logout.headers?["Content-Type"] == nil)
    }
}

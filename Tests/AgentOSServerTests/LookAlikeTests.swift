@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// Names and e-mails read as what they are: normalised, with no look-alike letters from other
/// scripts in e-mails and no invisible or direction-changing characters anywhere a person reads.
@Suite struct LookAlikeTests {
    @Test func lookAlikeAndInvisibleEMailsAreRefusedAndOthersNormalised() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        for email in ["admin@ex\u{0430}mple.com", "ad\u{200B}min@example.com", "admin@example.com\u{202E}", "\u{FEFF}x@example.com", "a b@example.com"] {
            let reply = await h.call(.createUser, token: token, body: ["email": .string(email), "password": "password-1"])
            #expect(reply.status == 400 && reply.errorCode == "invalid_request", "\(email.unicodeScalars.map(\.value)): \(reply.body)")
        }
        // Full-width and upper-case letters are one mailbox with the plain lower-case form.
        let created = await h.call(.createUser, token: token, body: ["email": "Ｂｏｂ@Example.COM", "password": "password-1"])
        #expect(created.status == 201 && created.body["email"] == "bob@example.com", "\(created.body)")
        let again = await h.call(.createUser, token: token, body: ["email": "bob@EXAMPLE.com", "password": "password-1"])
        #expect(again.status == 409, "\(again.body)")
        let login = await h.call(.login, token: nil, body: ["email": "BOB@example.com", "password": "password-1"])
        #expect(login.status == 200, "\(login.body)")
    }

    @Test func namesPeopleReadHaveNoHiddenCharacters() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        for name in ["Ann\u{202E}nimda", "A\u{200B}nn", "Ann\u{0007}", "\u{2066}Ann", "Ann\u{E000}"] {
            let user = await h.call(.createUser, token: token, body: ["email": "ann@example.com", "password": "password-1", "name": .string(name)])
            #expect(user.status == 400 && user.body["error"]?["message"]?.stringValue?.contains("invisible") == true, "\(user.body)")
            let upload = await h.call(.uploadFile, token: token, params: ["project": "p", "name": name + ".txt"], raw: Data("x".utf8))
            #expect(upload.status == 400, "\(upload.body)")
            let personal = await h.call(.createToken, token: token, body: ["name": .string(name)])
            #expect(personal.status == 400, "\(personal.body)")
        }
        let normalised = await h.call(.createUser, token: token, body: ["email": "ann@example.com", "password": "password-1", "name": "Ａnn Lee"])
        #expect(normalised.status == 201 && normalised.body["name"] == "Ann Lee", "\(normalised.body)")
        // A file name too long is told so, not that it holds a '/'.
        let long = await h.call(.uploadFile, token: token, params: ["project": "p", "name": String(repeating: "a", count: 300)], raw: Data("x".utf8))
        #expect(long.status == 400 && long.body["error"]?["message"] == "name is longer than 255 bytes", "\(long.body)")
        let plus = await h.call(.uploadFile, token: token, params: ["project": "p", "name": "my file.txt"], raw: Data("x".utf8))
        #expect(plus.status == 201 && plus.body["name"] == "my file.txt", "\(plus.body)")
    }

    @Test func projectAndSkillNamesDifferingOnlyInCaseAreOneName() async throws {
        let h = try await APIHarness()
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        #expect(await h.call(.createProject, token: token, body: ["name": "analysis"]).status == 201)
        let project = await h.call(.createProject, token: token, body: ["name": "Analysis"])
        #expect(project.status == 409 && project.body["error"]?["message"]?.stringValue?.contains("ignoring case") == true, "\(project.body)")
        #expect(await h.call(.createSkill, token: token, params: ["project": "analysis"], body: ["name": "sum", "code": "def main(): return 1"]).status == 201)
        let skill = await h.call(.createSkill, token: token, params: ["project": "analysis"], body: ["name": "SUM", "code": "def main(): return 1"])
        #expect(skill.status == 409, "\(skill.body)")
    }
}

import AgentOSAuth
import Foundation
import Testing

@Suite struct PasswordTests {
    let passwords = Passwords(cost: 4)

    @Test func rightPasswordMatchesWrongDoesNot() async {
        let hash = passwords.hash("correct horse")
        #expect(hash.hasPrefix("$2"))
        #expect(passwords.verify("correct horse", hash: hash))
        #expect(!passwords.verify("correct horsE", hash: hash))
        #expect(await passwords.verifyOffloaded("correct horse", hash: hash))
    }

    @Test func unknownAccountNeverMatches() {
        #expect(!passwords.verify("anything", hash: nil))
    }
}

@Suite struct AccessTokenTests {
    let key = Array("0123456789abcdef0123456789abcdef".utf8)

    @Test func issuedTokenVerifiesToItsUser() async throws {
        let tokens = await AccessTokens(secret: key, lifetime: 60)
        let token = try await tokens.issue(userID: "user-1", sessionID: "s-1")
        let claims = await tokens.verify(token)
        #expect(claims?.userID == "user-1")
        #expect(claims?.sessionID == "s-1")
    }

    @Test func expiredTamperedOrForeignTokensFail() async throws {
        let tokens = await AccessTokens(secret: key, lifetime: 60)
        let expired = try await tokens.issue(userID: "u", sessionID: "s", now: Date().addingTimeInterval(-120))
        #expect(await tokens.verify(expired) == nil)

        let good = try await tokens.issue(userID: "u", sessionID: "s")
        var parts = good.split(separator: ".").map(String.init)
        parts[1] = SecretToken.base64URL(Data(#"{"sub":"admin","exp":9999999999,"iat":0,"knd":"access","sid":"s"}"#.utf8))
        #expect(await tokens.verify(parts.joined(separator: ".")) == nil)

        let other = await AccessTokens(secret: Array("another-key-another-key-another!!".utf8), lifetime: 60)
        #expect(await tokens.verify(try await other.issue(userID: "u", sessionID: "s")) == nil)
        #expect(await tokens.verify("not a jwt") == nil)
        #expect(await tokens.verify("") == nil)
    }
}

@Suite struct SecretTokenTests {
    @Test func tokensAreRandomPrefixedAndHashStably() {
        let a = SecretToken.generate(prefix: "aow_")
        let b = SecretToken.generate(prefix: "aow_")
        #expect(a.hasPrefix("aow_") && a != b && a.count > 40)
        #expect(SecretToken.hash(a) == SecretToken.hash(a))
        #expect(SecretToken.hash(a).count == 64)
        #expect(SecretToken.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

import AgentOSAuth
@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// Login, refresh rotation and reuse detection, logout, personal tokens, disabled users,
/// rate limits, and the revocations that reach connected workers.
@Suite struct TokenLifecycleTests {
    func login(_ harness: APIHarness, _ email: String, _ password: String = "password-1", client: String = "10.0.0.1") async -> HarnessReply {
        await harness.call(.login, token: nil, body: ["email": .string(email), "password": .string(password)], client: client)
    }

    @Test func refreshRotatesAndReuseRevokesTheSession() async throws {
        let harness = try await APIHarness()
        _ = try harness.user("ann")
        let first = await login(harness, "ann@example.com")
        #expect(first.status == 200)
        let access = try #require(first.body["access_token"]?.stringValue)
        let refresh = try #require(first.body["refresh_token"]?.stringValue)
        #expect(first.body["token_type"] == "Bearer")
        #expect(first.body["expires_in"] == 900)
        #expect(await harness.call(.me, token: access).status == 200)

        let rotated = await harness.call(.refresh, token: nil, body: ["refresh_token": .string(refresh)])
        #expect(rotated.status == 200)
        let newRefresh = try #require(rotated.body["refresh_token"]?.stringValue)
        let newAccess = try #require(rotated.body["access_token"]?.stringValue)
        #expect(newRefresh != refresh)
        #expect(await harness.call(.me, token: newAccess).status == 200)

        // The spent token again: someone copied it. The whole session ends, for both holders.
        let replay = await harness.call(.refresh, token: nil, body: ["refresh_token": .string(refresh)])
        #expect(replay.status == 401)
        #expect(replay.errorCode == "refresh_token_reused")
        #expect(await harness.call(.refresh, token: nil, body: ["refresh_token": .string(newRefresh)]).status == 401)
        #expect(await harness.call(.me, token: newAccess).status == 401)
        #expect(await harness.call(.me, token: access).status == 401)
        guard case .credential(.session) = try #require(harness.revocations.last) else {
            Issue.record("the reuse did not disconnect the session's workers")
            return
        }
        let audit = try harness.store.auditEntries(action: "auth.refresh_reused", beforeSeq: nil, limit: 10)
        #expect(audit.count == 1)

        for bad: JSONValue in [["refresh_token": "aos_rt_unknown"], ["refresh_token": 5], [:], "x"] {
            let response = await harness.call(.refresh, token: nil, body: bad)
            #expect([400, 401].contains(response.status), "\(bad) → \(response.status)")
        }
    }

    @Test func expiredAccessTokensAndLogout() async throws {
        let harness = try await APIHarness()
        let ann = try harness.user("ann")
        let session = AuthSession(userID: ann.id, lifetime: 3600, address: nil)
        try harness.store.createSession(session, refreshTokenHash: "h")
        let expired = try await harness.tokens.issue(userID: ann.id, sessionID: session.id, now: Date().addingTimeInterval(-1000))
        #expect(await harness.call(.me, token: expired).status == 401)
        // A token naming another user's session is refused.
        let bob = try harness.user("bob")
        let forged = try await harness.tokens.issue(userID: bob.id, sessionID: session.id)
        #expect(await harness.call(.me, token: forged).status == 401)

        let live = try await harness.tokens.issue(userID: ann.id, sessionID: session.id)
        #expect(await harness.call(.me, token: live).status == 200)
        #expect(await harness.call(.logout, token: live).status == 204)
        #expect(await harness.call(.me, token: live).status == 401)
        #expect(harness.revocations == [.credential(.session(session.id))])
    }

    @Test func personalTokensAreShownOnceStoredHashedAndRevocable() async throws {
        let harness = try await APIHarness()
        let ann = try harness.user("ann")
        let access = try await harness.token(for: ann)
        let created = await harness.call(.createToken, token: access, body: ["name": "next.js backend", "expires_in": 3600])
        #expect(created.status == 201)
        let secret = try #require(created.body["token"]?.stringValue)
        let id = try #require(created.body["id"]?.stringValue)
        #expect(secret.hasPrefix("aos_pat_"))
        #expect(await harness.call(.me, token: secret).body["id"]?.stringValue == ann.id)

        let listed = await harness.call(.listTokens, token: secret)
        #expect(listed.body["tokens"]?.arrayValue?.count == 1)
        #expect(listed.body["tokens"]?.arrayValue?.first?["created_at"] == created.body["created_at"], "a record reads the same as when made")
        #expect(!listed.body.encodedString().contains(secret), "a listing must not show the secret")
        let stored = try #require(try harness.store.personalToken(id: id))
        #expect(stored.tokenHash == SecretToken.hash(secret))

        // Another user cannot see or revoke it.
        let bob = try harness.user("bob")
        #expect(await harness.call(.deleteToken, token: try await harness.token(for: bob), params: ["token": id]).status == 404)

        #expect(await harness.call(.deleteToken, token: access, params: ["token": id]).status == 204)
        #expect(await harness.call(.me, token: secret).status == 401)
        #expect(harness.revocations == [.credential(.personalToken(id))])
        #expect(try harness.store.auditEntries(action: "token.", beforeSeq: nil, limit: 10).map(\.action) == ["token.revoke", "token.create"])

        let expiring = try harness.store.createPersonalToken(PersonalToken(
            userID: ann.id, name: "old", tokenHash: SecretToken.hash("aos_pat_old"), prefix: "aos_pat_old",
            expiresAt: Date().addingTimeInterval(-1)))
        #expect(expiring.isLive() == false)
        #expect(await harness.call(.me, token: "aos_pat_old").status == 401)
        #expect(await harness.call(.createToken, token: access, body: ["name": ""]).status == 400)
        #expect(await harness.call(.createToken, token: access, body: ["name": "x", "expires_in": 1]).status == 400)
    }

    @Test func disablingAUserStopsEveryCredentialAtOnce() async throws {
        let harness = try await APIHarness()
        let admin = try harness.user("root", role: .admin)
        let adminToken = try await harness.token(for: admin)
        let ann = try harness.user("ann")
        let access = try await harness.token(for: ann)
        let pat = await harness.call(.createToken, token: access, body: ["name": "p"]).body["token"]?.stringValue ?? ""
        #expect(await harness.call(.me, token: pat).status == 200)

        let disabled = await harness.call(.updateUser, token: adminToken, params: ["user": ann.id], body: ["disabled": true])
        #expect(disabled.status == 200)
        #expect(disabled.body["disabled"] == true)
        #expect(await harness.call(.me, token: access).status == 401)
        #expect(await harness.call(.me, token: pat).status == 401)
        #expect(await login(harness, "ann@example.com").status == 401)
        #expect(harness.revocations.contains(.user(ann.id)))
        let audit = try harness.store.auditEntries(action: "user.update", beforeSeq: nil, limit: 5)
        #expect(audit.first?.detail["disabled"] == true)

        // The last enabled admin cannot lock everyone out.
        let demote = await harness.call(.updateUser, token: adminToken, params: ["user": admin.id], body: ["role": "user"])
        #expect(demote.status == 409)
    }

    @Test func failedLoginsSlowTheirAddressButNeverLockTheUserOut() async throws {
        let harness = try await APIHarness(limits: {
            var limits = APIHandler.Limits()
            limits.login = .init(freeFailures: 3, baseDelay: 60, perAddress: 6, window: 600)
            return limits
        }())
        _ = try harness.user("ann")
        _ = try harness.user("bob")
        // Ten wrong passwords from one address…
        var refused = 0
        for _ in 0..<10 {
            let wrong = await login(harness, "ann@example.com", "wrong-password", client: "127.0.0.2")
            #expect(wrong.status == 401 || wrong.status == 429)
            if wrong.status == 429 { refused += 1 }
        }
        #expect(refused == 7, "three free failures, then the address waits")
        let limited = await login(harness, "ann@example.com", "password-1", client: "127.0.0.2")
        #expect(limited.status == 429 && limited.errorCode == "rate_limited")
        let retryAfter = try #require(limited.headers?["Retry-After"].flatMap(Int.init))
        #expect(retryAfter > 0 && retryAfter <= 60)
        // …do not stop the right password from the user's own address.
        #expect(await login(harness, "ann@example.com", "password-1", client: "127.0.0.1").status == 200)

        // Per address: spraying other accounts from one address uses up its failures.
        for _ in 0..<3 { _ = await login(harness, "bob@example.com", "wrong", client: "127.0.0.2") }
        #expect(await login(harness, "bob@example.com", "password-1", client: "127.0.0.2").status == 429)
        #expect(await login(harness, "bob@example.com", "password-1", client: "10.0.0.3").status == 200)

        let failures = try harness.store.auditEntries(action: "auth.login_failed", beforeSeq: nil, limit: 100)
        #expect(failures.count == 6)
        #expect(!failures.contains { $0.detail.values.contains { $0.stringValue?.contains("wrong") == true } }, "passwords must not reach the audit log")
    }

    @Test func wrongEmailAndWrongPasswordLookTheSame() async throws {
        let harness = try await APIHarness()
        _ = try harness.user("ann")
        let unknown = await login(harness, "nobody@example.com", "password-1")
        let wrong = await login(harness, "ann@example.com", "nope-nope")
        #expect(unknown.status == 401 && wrong.status == 401)
        #expect(unknown.body == wrong.body)
    }
}

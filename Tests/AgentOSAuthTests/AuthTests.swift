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

@Suite struct LoginThrottleTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func delaysDoubleAfterTheFreeFailuresAndStopAtTheMaximum() {
        let throttle = LoginThrottle(limits: .init(freeFailures: 2, baseDelay: 1, maxDelay: 8, perAddress: 1000, window: 900))
        var now = start
        for _ in 0..<2 {
            #expect(throttle.retryAfter(account: "a@x.io", address: "1.2.3.4", now: now) == nil)
            _ = throttle.begin(account: "a@x.io", address: "1.2.3.4", now: now)
        }
        var waits: [Int] = []
        for _ in 0..<6 {
            let wait = throttle.retryAfter(account: "a@x.io", address: "1.2.3.4", now: now) ?? 0
            waits.append(wait)
            now += TimeInterval(wait)
            #expect(throttle.retryAfter(account: "a@x.io", address: "1.2.3.4", now: now) == nil, "free again once the delay passed")
            _ = throttle.begin(account: "a@x.io", address: "1.2.3.4", now: now)
        }
        #expect(waits == [1, 2, 4, 8, 8, 8])
        #expect(throttle.retryAfter(account: "A@X.IO", address: "1.2.3.4", now: now) == 8, "accounts are compared ignoring case")
        #expect(throttle.retryAfter(account: "a@x.io", address: "5.6.7.8", now: now) == nil, "another address is not slowed")
        throttle.succeeded(account: "a@x.io", address: "1.2.3.4")
        #expect(throttle.retryAfter(account: "a@x.io", address: "1.2.3.4", now: now) == nil)
    }

    @Test func guessingFromManyAddressesSlowsEachOneThatFailedButNotTheUsersOwn() {
        let throttle = LoginThrottle(limits: .init(freeFailures: 5, baseDelay: 10, perAddress: 1000, accountAlarm: 4, window: 900))
        for index in 0..<4 { _ = throttle.begin(account: "a@x.io", address: "10.0.0.\(index)", now: start) }
        #expect(throttle.retryAfter(account: "a@x.io", address: "10.0.0.1", now: start) == 10, "no free failures once the account is under attack")
        #expect(throttle.retryAfter(account: "a@x.io", address: "192.168.1.9", now: start) == nil, "the user's own address")
        #expect(throttle.retryAfter(account: "b@x.io", address: "10.0.0.1", now: start) == nil, "other accounts")
        // Failures age out of the window.
        #expect(throttle.retryAfter(account: "a@x.io", address: "10.0.0.1", now: start + 901) == nil)
    }

    @Test func oneAddressSprayingManyAccountsIsRefusedUntilItsFailuresAgeOut() {
        let throttle = LoginThrottle(limits: .init(freeFailures: 5, perAddress: 3, window: 600))
        for index in 0..<3 { _ = throttle.begin(account: "u\(index)@x.io", address: "6.6.6.6", now: start) }
        #expect(throttle.retryAfter(account: "new@x.io", address: "6.6.6.6", now: start + 100) == 500)
        #expect(throttle.retryAfter(account: "new@x.io", address: "7.7.7.7", now: start + 100) == nil)
        #expect(throttle.retryAfter(account: "new@x.io", address: "6.6.6.6", now: start + 600) == nil)
    }

    @Test func guessesSentAtOnceSeeEachOther() async {
        let throttle = LoginThrottle(limits: .init(freeFailures: 5, baseDelay: 60, perAddress: 1000, window: 900))
        let letThrough = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { throttle.begin(account: "a@x.io", address: "6.6.6.6") == nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(letThrough == 5, "as many as the free failures, not all that came at once")
        // A success takes its own attempt back and clears that address's count.
        throttle.succeeded(account: "a@x.io", address: "6.6.6.6")
        #expect(throttle.retryAfter(account: "a@x.io", address: "6.6.6.6") == nil)
    }
}

import Foundation
import JWTKit

/// The claims of an access token.
public struct AccessClaims: JWTPayload, Equatable {
    /// The user id.
    public var subject: SubjectClaim
    /// When it stops working.
    public var expiration: ExpirationClaim
    /// When it was issued.
    public var issuedAt: IssuedAtClaim
    /// Always `access`, so another kind of signed token cannot pass as one.
    public var kind: String
    /// The login session it belongs to; revoking the session stops the token.
    public var sessionID: String

    enum CodingKeys: String, CodingKey {
        case subject = "sub"
        case expiration = "exp"
        case issuedAt = "iat"
        case kind = "knd"
        case sessionID = "sid"
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try expiration.verifyNotExpired()
        guard kind == "access" else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "not an access token") }
    }
}

/// Issues and verifies short-lived HS256 access tokens with the server's secret.
public struct AccessTokens: Sendable {
    private let keys: JWTKeyCollection
    /// How long an access token works.
    public let lifetime: TimeInterval

    /// Tokens signed with `secret` (at least 32 random bytes, kept in the data dir).
    public init(secret: [UInt8], lifetime: TimeInterval) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.lifetime = lifetime
    }

    /// A signed token for `userID` in login session `sessionID`.
    public func issue(userID: String, sessionID: String, now: Date = Date()) async throws -> String {
        let claims = AccessClaims(
            subject: SubjectClaim(value: userID),
            expiration: ExpirationClaim(value: now.addingTimeInterval(lifetime)),
            issuedAt: IssuedAtClaim(value: now),
            kind: "access",
            sessionID: sessionID)
        return try await keys.sign(claims)
    }

    /// The user and session of a valid, unexpired token; nil for anything else.
    public func verify(_ token: String) async -> (userID: String, sessionID: String)? {
        guard let claims = try? await keys.verify(token, as: AccessClaims.self) else { return nil }
        return (claims.subject.value, claims.sessionID)
    }
}

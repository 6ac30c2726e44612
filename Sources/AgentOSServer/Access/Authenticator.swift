import AgentOSAuth
import AgentOSStore
import Foundation

/// Who is calling, and with which credential.
struct Caller: Sendable {
    enum Credential: Sendable, Equatable {
        /// An access token of a login session.
        case session(String)
        /// A personal access token.
        case personalToken(String)
    }

    let user: User
    let credential: Credential
    var isAdmin: Bool { user.role == .admin }
}

/// Turns a bearer token into a caller: access tokens (JWT of a live session), personal
/// access tokens (hashed lookup) and, for file downloads only, job file tokens. A disabled
/// user, a revoked session or a revoked token fails at once, not when a JWT expires.
struct Authenticator: Sendable {
    /// Personal access tokens start with this.
    static let personalTokenPrefix = "aos_pat_"

    let store: any AppStore
    let tokens: AccessTokens
    let fileTokens: JobFileTokens

    /// The caller behind `token`, or nil.
    func caller(_ token: String?) async throws -> Caller? {
        guard let token, !token.isEmpty, token.utf8.count <= 4096 else { return nil }
        if token.hasPrefix(Self.personalTokenPrefix) {
            guard let record = try store.usePersonalToken(hash: SecretToken.hash(token)),
                let user = try store.user(id: record.userID), !user.disabled
            else { return nil }
            return Caller(user: user, credential: .personalToken(record.id))
        }
        guard let claims = await tokens.verify(token), let session = try store.session(id: claims.sessionID),
            session.isLive(), session.userID == claims.userID,
            let user = try store.user(id: claims.userID), !user.disabled
        else { return nil }
        return Caller(user: user, credential: .session(session.id))
    }

    /// The job attempt a job file token grants, if it is genuine and the attempt still runs.
    func fileGrant(_ token: String?) throws -> JobFileTokens.Grant? {
        guard let token, let grant = fileTokens.verify(token), let job = try store.job(id: grant.jobID),
            job.status == .running, job.attempts == grant.attempt
        else { return nil }
        return grant
    }
}

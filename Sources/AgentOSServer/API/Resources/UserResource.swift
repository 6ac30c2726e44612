import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

/// Users (an admin's), personal access tokens (each user's own) and the audit log.
struct UserResource: APIResource {
    static let operations: [APIOperation] = [.listUsers, .createUser, .updateUser, .createToken, .listTokens, .deleteToken, .audit]

    let context: APIContext
    let passwords: Passwords
    let signals: any DispatchSignals

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listUsers: return try listUsers(caller)
        case .createUser: return try await createUser(request, caller: caller)
        case .updateUser: return try await updateUser(request, caller: caller)
        case .createToken: return try createToken(request, caller: caller)
        case .listTokens: return try listTokens(caller)
        case .deleteToken: return try deleteToken(request, caller: caller)
        case .audit: return try listAudit(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    // MARK: Users

    func listUsers(_ caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        return try .ok(Schemas.UserList(users: try store.users().map(Schemas.User.init)))
    }

    func createUser(_ request: APICall, caller: Caller) async throws -> Reply {
        try requireAdmin(caller)
        let body = try request.body(Schemas.CreateUserRequest.self)
        let email = try FieldRules.email(body.email, "email")
        let password = try FieldRules.password(body.password)
        let name = try FieldRules.displayName(body.name, "name", maxLength: 200) ?? String(email.split(separator: "@")[0])
        let role = body.role ?? .user
        let hash = await passwords.hashOffloaded(password)
        let user = try store.createUser(User(email: email, name: name, passwordHash: hash, role: role))
        audit("user.create", caller: caller, target: user.id, detail: ["email": .string(user.email), "role": .string(role.rawValue)], address: request.client)
        return try .created(Schemas.User(user))
    }

    func updateUser(_ request: APICall, caller: Caller) async throws -> Reply {
        try requireAdmin(caller)
        let body = try request.body(Schemas.UpdateUserRequest.self)
        let name = try FieldRules.displayName(body.name, "name", maxLength: 200)
        let password = try body.password.map { password throws(APIError) in try FieldRules.password(password) }
        let hash = if let password { await passwords.hashOffloaded(password) } else { String?.none }
        guard let id = request.params["user"], try store.user(id: id) != nil else { throw APIError.notFound("user") }
        let (before, after) = try store.updateUser(id: id) { user in
            if let role = body.role { user.role = role }
            if let disabled = body.disabled { user.disabled = disabled }
            if let name, !name.isEmpty { user.name = name }
            if let hash { user.passwordHash = hash }
        }
        var changes: [String: JSONValue] = [:]
        if before.role != after.role { changes["role"] = ["from": .string(before.role.rawValue), "to": .string(after.role.rawValue)] }
        if before.disabled != after.disabled { changes["disabled"] = .bool(after.disabled) }
        if before.name != after.name { changes["name"] = .string(after.name) }
        if hash != nil { changes["password"] = "changed" }
        if !changes.isEmpty {
            audit("user.update", caller: caller, target: id, detail: changes, address: request.client)
        }
        if after.disabled && !before.disabled {
            // Requests check the flag each time; connected private workers are dropped now.
            signals.revoke(.user(id))
        }
        return try .ok(Schemas.User(after))
    }

    // MARK: Personal access tokens

    func createToken(_ request: APICall, caller: Caller) throws -> Reply {
        let body = try request.body(Schemas.CreateTokenRequest.self)
        let name = try FieldRules.required(FieldRules.displayName(body.name, "name", maxLength: 100), "name", maxLength: 100)
        let expiresIn = try FieldRules.within(body.expiresIn, "expires_in", 60...(10 * 365 * 86_400))
        let secret = SecretToken.generate(prefix: Authenticator.personalTokenPrefix)
        let now = Date()
        let token = try store.createPersonalToken(PersonalToken(
            userID: caller.user.id, name: name, tokenHash: SecretToken.hash(secret),
            prefix: String(secret.prefix(Authenticator.personalTokenPrefix.count + 6)),
            curveKey: BusKeys.publicKey(forCredential: secret), createdAt: now,
            expiresAt: expiresIn.map { now.addingTimeInterval(TimeInterval($0)) }))
        audit("token.create", caller: caller, target: token.id, detail: ["name": .string(name)], address: request.client)
        return try .created(Schemas.PersonalToken(token, secret: secret))
    }

    func listTokens(_ caller: Caller) throws -> Reply {
        try .ok(Schemas.PersonalTokenList(tokens: try store.personalTokens(userID: caller.user.id).map { Schemas.PersonalToken($0) }))
    }

    func deleteToken(_ request: APICall, caller: Caller) throws -> Reply {
        // Your own tokens; an admin may revoke anyone's. Others' tokens do not exist for you.
        guard let id = request.params["token"], let token = try store.personalToken(id: id),
            token.userID == caller.user.id || caller.isAdmin
        else { throw APIError.notFound("token") }
        if try store.revokePersonalToken(id: id) {
            signals.revoke(.credential(.personalToken(id)))
            audit("token.revoke", caller: caller, target: id, detail: ["owner": .string(token.userID)], address: request.client)
        }
        return .noContent
    }

    // MARK: Audit

    func listAudit(_ request: APICall, caller: Caller) throws -> Reply {
        try requireAdmin(caller)
        let limit = try pageLimit(request.params["limit"], fallback: 100, maximum: 1000)
        var before: Int64?
        if let cursor = request.params["cursor"] {
            guard let seq = Int64(cursor), seq > 0 else { throw APIError.invalid("cursor is not one this server gave out") }
            before = seq
        }
        let action = request.params["action"].flatMap { $0.isEmpty ? nil : String($0.prefix(100)) }
        let entries = try store.auditEntries(action: action, beforeSeq: before, limit: limit)
        let next = entries.count == limit ? entries.last?.seq.map { String($0) } : nil
        return try .ok(Schemas.AuditList(entries: entries.map(Schemas.AuditEntry.init), nextCursor: next))
    }
}

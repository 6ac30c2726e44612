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
        return .ok(["users": .array(try store.users().map(Representation.user))])
    }

    func createUser(_ request: APICall, caller: Caller) async throws -> Reply {
        try requireAdmin(caller)
        let reader = try BodyReader(request.body)
        let email = try reader.email("email") ?? ""
        let password = try Self.password(reader)
        let name = try reader.string("name", maxLength: 200) ?? String(email.split(separator: "@")[0])
        let role = try reader.choice("role", SystemRole.self) ?? .user
        let hash = await passwords.hashOffloaded(password)
        let user = try store.createUser(User(email: email, name: name, passwordHash: hash, role: role))
        audit("user.create", caller: caller, target: user.id, detail: ["email": .string(user.email), "role": .string(role.rawValue)], address: request.client)
        return .created(Representation.user(user))
    }

    static func password(_ reader: BodyReader, required: Bool = true) throws(APIError) -> String {
        guard let password = try reader.string("password", maxLength: 72, required: required) else { return "" }
        guard password.count >= 8 else { throw .invalid("password must be at least 8 characters") }
        return password
    }

    func updateUser(_ request: APICall, caller: Caller) async throws -> Reply {
        try requireAdmin(caller)
        let reader = try BodyReader(request.body)
        let role = try reader.choice("role", SystemRole.self)
        let disabled = try reader.bool("disabled")
        let name = try reader.string("name", maxLength: 200, required: false)
        let password = reader.has("password") ? try Self.password(reader) : nil
        let hash = if let password { await passwords.hashOffloaded(password) } else { String?.none }
        guard let id = request.params["user"], try store.user(id: id) != nil else { throw APIError.notFound("user") }
        let (before, after) = try store.updateUser(id: id) { user in
            if let role { user.role = role }
            if let disabled { user.disabled = disabled }
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
        return .ok(Representation.user(after))
    }

    // MARK: Personal access tokens

    func createToken(_ request: APICall, caller: Caller) throws -> Reply {
        let reader = try BodyReader(request.body)
        let name = try reader.string("name", maxLength: 100, required: true) ?? ""
        let expiresIn = try reader.int("expires_in", in: 60...(10 * 365 * 86_400))
        let secret = SecretToken.generate(prefix: Authenticator.personalTokenPrefix)
        let now = Date()
        let token = try store.createPersonalToken(PersonalToken(
            userID: caller.user.id, name: name, tokenHash: SecretToken.hash(secret),
            prefix: String(secret.prefix(Authenticator.personalTokenPrefix.count + 6)), createdAt: now,
            expiresAt: expiresIn.map { now.addingTimeInterval(TimeInterval($0)) }))
        audit("token.create", caller: caller, target: token.id, detail: ["name": .string(name)], address: request.client)
        var body = Representation.personalToken(token).objectValue ?? [:]
        body["token"] = .string(secret)
        return .created(.object(body))
    }

    func listTokens(_ caller: Caller) throws -> Reply {
        .ok(["tokens": .array(try store.personalTokens(userID: caller.user.id).map(Representation.personalToken))])
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
        let next = entries.count == limit ? entries.last?.seq.map { JSONValue.string(String($0)) } : nil
        return .ok(["entries": .array(entries.map(Representation.audit)), "next_cursor": next ?? .null])
    }
}

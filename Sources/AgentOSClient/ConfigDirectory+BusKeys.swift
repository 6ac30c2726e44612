import AgentOSAuth
import Foundation

/// What a desktop keeps to reach a server's encrypted bus: the server's key, pinned on first
/// use, and the personal access token its own key is derived from.
extension ConfigDirectory {
    /// The pinned server keys, by gateway URL.
    public var serverKeysPath: String { path + "/server-keys.json" }

    /// The server key pinned for `gateway`, if any.
    public func pinnedServerKey(gateway: String) throws -> String? {
        try pinnedServerKeys()[gateway]
    }

    /// Pins `key` as the server key of `gateway` (0600, beside the credentials).
    public func pin(serverKey key: String, gateway: String) throws {
        var keys = try pinnedServerKeys()
        keys[gateway] = key
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try SecretFile.write(try encoder.encode(keys), to: serverKeysPath)
    }

    private func pinnedServerKeys() throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: serverKeysPath) else { return [:] }
        guard let keys = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw ClientError.io("\(serverKeysPath) is not a JSON object of gateway URLs and server keys; fix or remove it")
        }
        return keys
    }

    /// The personal access token this desktop attaches to `gateway`'s bus with, for `userID`, if one was made.
    public func desktopBusToken(userID: String, gateway: String) -> String? {
        guard let data = FileManager.default.contents(atPath: busTokenPath(userID: userID, gateway: gateway)) else { return nil }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }

    /// Keeps the desktop's bus token (0600).
    public func saveDesktopBusToken(_ token: String, userID: String, gateway: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try SecretFile.write(token + "\n", to: busTokenPath(userID: userID, gateway: gateway))
    }

    /// Forgets the desktop's bus token (the server refused it).
    public func removeDesktopBusToken(userID: String, gateway: String) {
        try? FileManager.default.removeItem(atPath: busTokenPath(userID: userID, gateway: gateway))
    }

    private func busTokenPath(userID: String, gateway: String) -> String {
        let safeUser = userID.filter { $0.isLetter || $0.isNumber || $0 == "-" }
        return path + "/desktop-bus-token-\(safeUser)-\(SecretToken.hash(gateway).prefix(12))"
    }
}

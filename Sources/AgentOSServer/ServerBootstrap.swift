import AgentOSAuth
import AgentOSStore
import Foundation
import Logging
import ZeroMQ

/// What the server needs that lives in its data directory.
struct ServerState: Sendable {
    let store: any AppStore
    let signingKey: [UInt8]
    /// Seals secrets at rest; never stored in the database.
    let secretKey: [UInt8]
    /// Workers the previous run left online: they may come back during the restart grace period.
    let workersOnlineBefore: Int
    /// The server's long-term CURVE key pair.
    let curveKeys: CurveKeyPair
    /// The public key gateways connect to the API socket with.
    let gatewayKey: String
}

/// Opens the data directory and, on first start, creates the admin account, the `default`
/// project and the cloud-worker token exactly as SPEC §2 says.
enum ServerBootstrap {
    static func prepare(_ configuration: ServerConfiguration, logger: Logger) throws -> ServerState {
        let fileManager = FileManager.default
        try fileManager.createDirectory(
            atPath: configuration.dataDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let store = try configuration.store.open(dataDirectory: configuration.dataDirectory, logger: logger)
        let signingKey = try loadOrCreateKey(at: configuration.signingKeyPath)
        let secretKey = try loadOrCreateKey(at: configuration.secretKeyPath)
        if try !store.hasUsers() {
            try firstStart(configuration, store: store, logger: logger)
        }
        let curveKeys = try loadOrCreateCurveKeys(configuration)
        let gatewayToken = try loadOrCreateToken(at: configuration.gatewayTokenPath, prefix: "aog_")
        // The first worker token was made before its key was stored when this data directory
        // predates CURVE; its secret is still here, so its key can be.
        if let workerToken = try SecretFile.read(configuration.workerTokenPath),
           !workerToken.isEmpty, let key = BusKeys.publicKey(forCredential: workerToken) {
            try store.setWorkerTokenCurveKey(hash: SecretToken.hash(workerToken), curveKey: key)
        }
        // Alone on its store, the server knows no worker is connected yet; sharing it, the other
        // servers' workers are, and there is no restart grace period to size.
        let online = store is any SharedStore ? 0 : try store.markAllWorkersOffline()
        return ServerState(
            store: store, signingKey: signingKey, secretKey: Array(secretKey.prefix(32)), workersOnlineBefore: online,
            curveKeys: curveKeys, gatewayKey: try BusKeys.keyPair(forCredential: gatewayToken).publicKey)
    }

    /// The server's CURVE key pair: its secret key in Z85 in a 0600 file, made on first
    /// start, and the public key beside it (`server-key.pub`) for operators to hand out.
    private static func loadOrCreateCurveKeys(_ configuration: ServerConfiguration) throws -> CurveKeyPair {
        let keys: CurveKeyPair
        if let text = try SecretFile.read(configuration.serverKeyPath) {
            do {
                keys = try CurveKeyPair(secretKey: text)
            } catch {
                throw ServerKeyError(description: "\(configuration.serverKeyPath) does not hold a CURVE secret key (40 Z85 characters): \(error)")
            }
        } else {
            keys = try CurveKeyPair.generate()
            try SecretFile.write(keys.secretKey + "\n", to: configuration.serverKeyPath)
        }
        let published = try? String(contentsOfFile: configuration.serverPublicKeyPath, encoding: .utf8)
        if published?.trimmingCharacters(in: .whitespacesAndNewlines) != keys.publicKey {
            try Data((keys.publicKey + "\n").utf8).write(to: URL(fileURLWithPath: configuration.serverPublicKeyPath), options: .atomic)
        }
        return keys
    }

    /// A bearer secret kept in a 0600 file, made when the file is missing.
    private static func loadOrCreateToken(at path: String, prefix: String) throws -> String {
        if let text = try SecretFile.read(path), !text.isEmpty {
            return text
        }
        let token = SecretToken.generate(prefix: prefix)
        try SecretFile.write(token + "\n", to: path)
        return token
    }

    /// A 32-byte key kept hex-encoded in a 0600 file, made on first use.
    private static func loadOrCreateKey(at path: String) throws -> [UInt8] {
        if let hex = try SecretFile.read(path), let key = bytes(fromHex: hex), key.count >= 32 {
            return key
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try SecretFile.write(key.map { String(format: "%02x", $0) }.joined() + "\n", to: path)
        return key
    }

    /// Writes the secret files first and commits the accounts last: a crash in between
    /// leaves no users, so the next start simply does it all again with fresh secrets.
    private static func firstStart(_ configuration: ServerConfiguration, store: any AppStore, logger: Logger) throws {
        let password = configuration.adminPassword ?? String(SecretToken.generate(prefix: "").prefix(24))
        let workerToken = SecretToken.generate(prefix: "aow_")
        if configuration.adminPassword == nil {
            try SecretFile.write(password + "\n", to: configuration.adminPasswordPath)
        }
        try SecretFile.write(workerToken + "\n", to: configuration.workerTokenPath)
        let admin = User(
            email: configuration.adminEmail, name: "Administrator",
            passwordHash: Passwords(cost: configuration.bcryptCost).hash(password), role: .admin)
        try store.createFirstStart(admin: admin, workerToken: WorkerToken(
            name: "default", tokenHash: SecretToken.hash(workerToken), curveKey: BusKeys.publicKey(forCredential: workerToken)))
        if configuration.adminPassword == nil {
            // Straight to the descriptor: a buffered print would sit unseen behind a pipe.
            FileHandle.standardOutput.write(Data(
                "agentos: created admin \(admin.email) with password \(password) (saved in \(configuration.adminPasswordPath))\n".utf8))
        }
        logger.notice("first start: admin account, default project and worker token created", metadata: [
            "admin": "\(admin.email)", "worker_token_file": "\(configuration.workerTokenPath)",
        ])
    }

    private static func bytes(fromHex hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let byte = UInt8(String(decoding: chars[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            index += 2
        }
        return out
    }
}

/// The server's key file cannot be used.
struct ServerKeyError: Error, CustomStringConvertible {
    let description: String
}

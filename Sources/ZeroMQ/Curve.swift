import CZeroMQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A CURVE key pair in Z85 text (40 chars each).
public struct CurveKeyPair: Sendable, Equatable, Codable {
    /// Length of a 32-byte CURVE key in Z85 text.
    static let z85KeyLength = 40

    /// The public key, given to peers (clients use the server's as `serverPublicKey`).
    public let publicKey: String
    /// The secret key, which never leaves its owner.
    public let secretKey: String

    /// Generates a fresh random key pair (`zmq_curve_keypair`); throws `ENOTSUP` when libzmq lacks CURVE.
    public static func generate() throws -> CurveKeyPair {
        guard ZeroMQ.has("curve") else { throw ZMQError(code: ENOTSUP) }
        var publicKey = [CChar](repeating: 0, count: z85KeyLength + 1)
        var secretKey = [CChar](repeating: 0, count: z85KeyLength + 1)
        try check(zmq_curve_keypair(&publicKey, &secretKey))
        return CurveKeyPair(publicKey: string(from: publicKey), secretKey: string(from: secretKey))
    }

    /// Rebuilds a key pair from its Z85 secret key, deriving the public key (`zmq_curve_public`).
    public init(secretKey: String) throws {
        guard ZeroMQ.has("curve") else { throw ZMQError(code: ENOTSUP) }
        // Decoding validates length and alphabet, which zmq_curve_public would read past or reject vaguely.
        guard secretKey.utf8.count == Self.z85KeyLength else { throw ZMQError(code: EINVAL) }
        _ = try Z85.decode(secretKey)
        var publicKey = [CChar](repeating: 0, count: Self.z85KeyLength + 1)
        try check(zmq_curve_public(&publicKey, secretKey))
        self.init(publicKey: Self.string(from: publicKey), secretKey: secretKey)
    }

    /// The key pair whose secret key is these 32 bytes: any 32 bytes make a Curve25519 secret
    /// key, so a pair can be derived from a secret both sides know (see `AgentOSAuth`'s bus keys).
    public init(secretBytes: [UInt8]) throws {
        guard secretBytes.count == 32 else { throw ZMQError(code: EINVAL) }
        try self.init(secretKey: Z85.encode(secretBytes))
    }

    /// Whether `text` is a key in Z85 (40 characters of its alphabet, decoding to 32 bytes).
    public static func isValidKey(_ text: String) -> Bool {
        text.utf8.count == z85KeyLength && (try? Z85.decode(text))?.count == 32
    }

    /// A key given as its 40 Z85 characters, or as the path of a file holding them (as
    /// operators hand out `server-key.pub`); nil when `given` is neither.
    public static func key(inTextOrFile given: String) -> String? {
        if isValidKey(given) { return given }
        guard let data = FileManager.default.contents(atPath: given) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return isValidKey(text) ? text : nil
    }

    /// Pairs two keys already known to belong together.
    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Converts a NUL-terminated key buffer filled by libzmq into a String.
    private static func string(from buffer: [CChar]) -> String {
        String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What a CURVE client needs: the server's public key, which it checks, and its own pair.
public struct CurveClient: Sendable, Equatable {
    /// The server's public key (Z85).
    public let serverPublicKey: String
    /// This client's key pair.
    public let keyPair: CurveKeyPair

    /// A client that talks only to the owner of `serverPublicKey`.
    public init(serverPublicKey: String, keyPair: CurveKeyPair) {
        self.serverPublicKey = serverPublicKey
        self.keyPair = keyPair
    }
}

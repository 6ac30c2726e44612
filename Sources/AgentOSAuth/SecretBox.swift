import Crypto
import Foundation

/// Seals secrets at rest (provider API keys) with AES-256-GCM under a key kept outside the
/// database. Each value is bound to its record id, so a sealed value copied onto another
/// record does not open there.
public struct SecretBox: Sendable {
    /// Why a sealed value did not open.
    public struct OpenError: Error, CustomStringConvertible {
        public var description: String { "the sealed value cannot be opened with this server's key" }
    }

    private let key: SymmetricKey
    /// Bytes a sealed value adds to its plaintext: a 12-byte nonce and a 16-byte tag.
    public static let overhead = 28

    /// A box with a 32-byte key.
    public init(key: [UInt8]) {
        precondition(key.count == 32, "AES-256 needs a 32-byte key")
        self.key = SymmetricKey(data: key)
    }

    /// Nonce, ciphertext and tag of `plaintext`, bound to `context`.
    public func seal(_ plaintext: String, context: String) throws -> Data {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw OpenError() }
        return combined
    }

    /// The plaintext of a sealed value, checked against `context`.
    public func open(_ sealed: Data, context: String) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let data = try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw OpenError()
        }
    }
}

/// Bearer tokens that let a worker read the files of one job attempt and nothing else.
/// They are HMAC-SHA256 over the job id, attempt and expiry, made on the bus thread
/// without a round trip, and checked against the job's live state when used.
public struct JobFileTokens: Sendable {
    /// What a valid token grants.
    public struct Grant: Sendable, Equatable {
        public let jobID: String
        public let attempt: Int
    }

    /// Every job file token starts with this.
    public static let prefix = "aosjob_"
    private let key: SymmetricKey

    /// Tokens keyed by a key derived from the server's signing secret.
    public init(secret: [UInt8]) {
        key = SymmetricKey(data: HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), info: Data("agentos job file tokens".utf8), outputByteCount: 32))
    }

    /// A token for `attempt` of `jobID` that works until `expires`.
    public func issue(jobID: String, attempt: Int, expires: Date) -> String {
        let payload = "\(jobID).\(attempt).\(Int(expires.timeIntervalSince1970))"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)
        return Self.prefix + SecretToken.base64URL(Data(payload.utf8)) + "." + SecretToken.base64URL(Data(mac))
    }

    /// The grant of a genuine, unexpired token; nil otherwise.
    public func verify(_ token: String, now: Date = Date()) -> Grant? {
        guard token.hasPrefix(Self.prefix) else { return nil }
        let parts = token.dropFirst(Self.prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Self.base64URLDecode(parts[0]), let mac = Self.base64URLDecode(parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key)
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: ".")
        guard fields.count == 3, let attempt = Int(fields[1]), let expiry = Int(fields[2]),
            Double(expiry) > now.timeIntervalSince1970
        else { return nil }
        return Grant(jobID: String(fields[0]), attempt: attempt)
    }

    private static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

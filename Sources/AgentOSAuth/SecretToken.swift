import Crypto
import Foundation

/// Random bearer secrets (worker tokens, later personal access tokens) and their stored hashes.
public enum SecretToken {
    /// A new secret: `prefix` plus 32 random bytes in base64url.
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(Data(bytes))
    }

    /// Hex SHA-256 of a secret: what the database keeps.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The 32 bytes of the CURVE secret key a bus credential (worker token, personal access
    /// token, gateway token) stands for: a hash of the secret under a label of its own, so it
    /// is neither the secret nor the stored hash. Client and server both derive the key pair
    /// from it; the server keeps only its public half.
    public static func busKeySeed(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data("agentos bus key v1\n\(secret)".utf8)))
    }

    /// URL-safe base64 without padding.
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

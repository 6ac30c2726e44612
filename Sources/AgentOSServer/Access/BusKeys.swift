import AgentOSAuth
import ZeroMQ

/// The CURVE keys of the server's sockets: the server's own long-term pair, and the public
/// keys of the credentials that may connect, derived from their secrets
/// (`SecretToken.busKeySeed`), so a peer proves at the handshake that it holds one.
public enum BusKeys {
    /// The public key a credential's holder connects with; nil when libzmq lacks CURVE.
    public static func publicKey(forCredential secret: String) -> String? {
        try? CurveKeyPair(secretBytes: SecretToken.busKeySeed(secret)).publicKey
    }

    /// The key pair a credential's holder connects with.
    public static func keyPair(forCredential secret: String) throws -> CurveKeyPair {
        try CurveKeyPair(secretBytes: SecretToken.busKeySeed(secret))
    }
}

import AgentOSAuth
import ArgumentParser
import Foundation
import ZeroMQ

/// How `worker` and `gateway` secure their connection to the server: CURVE with the server's
/// key whenever it is given or the server is beyond loopback, the client's own key derived
/// from its token; plain TCP only on loopback, or when explicitly allowed.
struct BusSecurityOptions: ParsableArguments {
    @Option(help: "The server's CURVE public key, or a file holding it (AGENTOS_SERVER_KEY); needed when the server is not on loopback. It is <data>/server-key.pub on the server, and curve_public_key in GET /api/v1/cluster")
    var serverKey: String?
    @Flag(help: "Talk plain TCP to a server beyond loopback that runs --insecure-plaintext-bus (AGENTOS_INSECURE_PLAINTEXT_BUS=1)")
    var insecurePlaintextBus = false

    /// The CURVE settings for a connection to `endpoint` with the credential `token`, or nil for plain TCP.
    func curve(endpoint: String, token: () throws -> String) throws -> CurveClient? {
        guard let given = Settings.value(serverKey, env: "SERVER_KEY") else {
            if Endpoint.isLocal(endpoint) || insecurePlaintextBus || Settings.environment("INSECURE_PLAINTEXT_BUS") == "1" { return nil }
            throw ValidationError("""
                \(endpoint) is not on loopback, so the server runs CURVE there: give its public key with --server-key \
                (it is in <data>/server-key.pub on the server, and in GET /api/v1/cluster)
                """)
        }
        let key = try Self.readKey(given)
        return CurveClient(serverPublicKey: key, keyPair: try CurveKeyPair(secretBytes: SecretToken.busKeySeed(token())))
    }

    /// A key given as its 40 Z85 characters, or as a file holding them.
    static func readKey(_ given: String) throws -> String {
        guard let key = CurveKeyPair.key(inTextOrFile: given) else {
            throw ValidationError("--server-key must be a CURVE public key (40 Z85 characters) or a file holding one; \(given) is neither")
        }
        return key
    }
}

import AgentOSStore
import Foundation
import Logging
import ZeroMQ

/// The server's ZAP handler (ZeroMQ RFC 27): libzmq asks it about every peer that completes
/// a CURVE handshake with the bus or the API socket, before any of the peer's messages is
/// read. On the bus (domain `bus`) a key must be that of a live worker token or personal
/// access token; on the API socket (domain `api`), that of the gateway token. Anything else
/// is refused at the handshake, so it never reaches the dispatcher or an API handler.
///
/// It owns a `REP` socket at `inproc://zeromq.zap.01` on the server's context, as the driver
/// of the `agentos-zap` loop; a lookup is one indexed read.
final class ZAPHandler: SocketLoopDriver {
    typealias Event = Never

    /// The bus's ZAP domain.
    static let busDomain = "bus"
    /// The API socket's ZAP domain.
    static let apiDomain = "api"

    private let socket: Socket
    private let store: any AppStore
    private let gatewayKeys: Set<String>
    private let logger: Logger
    /// How many refusals each peer address may write to the log.
    private var warnings = WarningLimiter()

    /// Binds the handler; do it before any CURVE socket of `context` binds.
    init(context: Context, store: any AppStore, gatewayKeys: Set<String>, logger: Logger) throws {
        socket = try context.makeSocket(.rep)
        try socket.setLinger(0)
        try socket.bind(ZAPRequest.endpoint)
        self.store = store
        self.gatewayKeys = gatewayKeys
        self.logger = logger
    }

    var sockets: [Socket] { [socket] }
    var pollTimeoutMS: Int { -1 }

    func readable(_ index: Int) throws -> SocketLoopStep {
        while let frames = try? socket.receive(dontWait: true) {
            let reply: [[UInt8]]
            do {
                let request = try ZAPRequest(frames: frames)
                reply = answer(request)
            } catch {
                // A REP socket must answer before it can read again; libzmq never sends this.
                reply = [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
            }
            do {
                try socket.send(reply)
            } catch {
                logger.error("cannot answer a ZAP request", metadata: ["error": "\(error)"])
            }
        }
        return .continue
    }

    func handle(_ event: Never) throws -> SocketLoopStep {
        switch event {}
    }

    func stopped() {
        socket.close()
    }

    /// The verdict on one peer.
    func answer(_ request: ZAPRequest) -> [[UInt8]] {
        guard let key = request.curvePublicKey else {
            return refuse(request, "only CURVE peers are let in")
        }
        switch request.domain {
        case Self.apiDomain:
            return gatewayKeys.contains(key)
                ? request.reply(.success, "OK", userID: "gateway")
                : refuse(request, "the key is not the gateway token's (<data>/gateway-token)")
        case Self.busDomain:
            do {
                guard let peer = try store.busPeer(curveKey: key) else {
                    return refuse(request, "the key is not that of a live worker token or personal access token")
                }
                return request.reply(.success, "OK", userID: peer.userID)
            } catch {
                logger.error("cannot check a bus peer's key", metadata: ["address": "\(request.address)", "error": "\(error)"])
                return request.reply(.temporaryError, "the server cannot check credentials right now")
            }
        default:
            return refuse(request, "unknown ZAP domain")
        }
    }

    private func refuse(_ request: ZAPRequest, _ reason: String) -> [[UInt8]] {
        warnings.warn("refused a peer at the handshake", peer: Array("\(request.domain) \(request.address)".utf8), [
            "domain": "\(request.domain)", "address": "\(request.address)", "mechanism": "\(request.mechanism)",
            "key": "\(request.curvePublicKey ?? "-")", "reason": "\(reason)",
        ], to: logger)
        return request.reply(.authenticationFailure, reason)
    }
}

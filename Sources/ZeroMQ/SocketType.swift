import CZeroMQ

/// The messaging pattern role of a socket, mirroring libzmq's `ZMQ_*` socket types.
public enum SocketType: Sendable {
    /// Exclusive one-to-one peer (`ZMQ_PAIR`).
    case pair
    /// Publisher that fans messages out to subscribers (`ZMQ_PUB`).
    case pub
    /// Subscriber that filters by prefix (`ZMQ_SUB`).
    case sub
    /// Strict request/reply client (`ZMQ_REQ`).
    case req
    /// Strict request/reply server (`ZMQ_REP`).
    case rep
    /// Asynchronous client that load-balances outgoing and fair-queues incoming messages (`ZMQ_DEALER`).
    case dealer
    /// Asynchronous server that prefixes each message with its peer's routing id (`ZMQ_ROUTER`).
    case router
    /// Pipeline sink (`ZMQ_PULL`).
    case pull
    /// Pipeline source (`ZMQ_PUSH`).
    case push
    /// Publisher that also receives subscription messages (`ZMQ_XPUB`).
    case xpub
    /// Subscriber that sends subscriptions as plain messages (`ZMQ_XSUB`).
    case xsub

    /// The libzmq constant passed to `zmq_socket`.
    var rawValue: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        }
    }
}

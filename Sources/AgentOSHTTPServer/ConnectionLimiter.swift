import Synchronization

/// Counts one server's connections, in all and by client address, and decides for each new
/// one whether it is served, refused with `503` or, when a crowd is already being refused,
/// closed without an answer. Shared by the server's event loops.
final class ConnectionLimiter: Sendable {
    /// What happens to a new connection.
    enum Admission: Equatable {
        case serve
        /// Answered with this `503` and closed.
        case refuse(ErrorAnswer)
        /// Closed at once: too many refusals are underway already.
        case drop
    }

    private struct Counts {
        var served = 0
        var servedByAddress: [String: Int] = [:]
        var refusing = 0
    }

    private let limits: HTTPServerLimits
    /// Refusals underway at once: half of the room `maxOpenConnections` leaves above
    /// `maxConnections`, the other half for connections being dropped.
    private let maxRefusing: Int
    private let counts = Mutex(Counts())

    init(limits: HTTPServerLimits) {
        self.limits = limits
        maxRefusing = max(0, limits.maxOpenConnections - limits.maxConnections) / 2
    }

    /// Admits a connection from `address` (its IP address); `release` must follow when it closes.
    func admit(address: String) -> Admission {
        counts.withLock { counts in
            let fromAddress = counts.servedByAddress[address, default: 0]
            if counts.served < limits.maxConnections, fromAddress < limits.maxConnectionsPerAddress {
                counts.served += 1
                counts.servedByAddress[address] = fromAddress + 1
                return .serve
            }
            guard counts.refusing < maxRefusing else { return .drop }
            counts.refusing += 1
            if fromAddress >= limits.maxConnectionsPerAddress {
                return .refuse(ErrorAnswer(
                    status: .serviceUnavailable, code: "too_many_connections",
                    message: "this address has \(fromAddress) connections open here, the most allowed; close some or try again later",
                    retryAfterSeconds: 5))
            }
            return .refuse(ErrorAnswer(
                status: .serviceUnavailable, code: "too_many_connections",
                message: "this server has \(counts.served) connections open, the most it serves; try again shortly",
                retryAfterSeconds: 1))
        }
    }

    /// The connection admitted with `admission` from `address` has closed.
    func release(address: String, _ admission: Admission) {
        counts.withLock { counts in
            switch admission {
            case .serve:
                counts.served -= 1
                let left = counts.servedByAddress[address, default: 1] - 1
                counts.servedByAddress[address] = left > 0 ? left : nil
            case .refuse:
                counts.refusing -= 1
            case .drop:
                break
            }
        }
    }
}

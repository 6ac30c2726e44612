import Dispatch
import HummingbirdBcrypt

/// bcrypt password hashing with a configurable cost.
public struct Passwords: Sendable {
    /// bcrypt work factor: 2^cost rounds.
    public let cost: UInt8

    /// Hashing at `cost` (tests use a low one; production keeps the default).
    public init(cost: UInt8 = 11) {
        self.cost = cost
        self.dummyHash = Bcrypt.hash("agentos-no-such-account", cost: cost)
    }

    /// A salted bcrypt hash of `password`.
    public func hash(_ password: String) -> String {
        Bcrypt.hash(password, cost: cost)
    }

    /// Whether `password` matches `hash`. With no hash (unknown account) it still spends the
    /// time of a real check, so a wrong email and a wrong password cannot be told apart.
    public func verify(_ password: String, hash: String?) -> Bool {
        guard let hash else {
            _ = Bcrypt.verify(password, hash: dummyHash)
            return false
        }
        return Bcrypt.verify(password, hash: hash)
    }

    /// `verify(_:hash:)` on a GCD thread: bcrypt takes tens of milliseconds by design and
    /// must not hold one of the few cooperative threads every request shares.
    public func verifyOffloaded(_ password: String, hash: String?) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: verify(password, hash: hash))
            }
        }
    }

    /// `hash(_:)` on a GCD thread, for the same reason.
    public func hashOffloaded(_ password: String) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: hash(password))
            }
        }
    }

    // A hash of the same cost for unknown accounts; bcrypt's time depends only on the cost.
    private let dummyHash: String
}

import Synchronization

/// Bytes that some kind of work may hold at once, shared by the handlers doing it: past the
/// limit, more work is turned away until some finishes. One piece of work is always let in,
/// however large, so nothing is refused for good, and work that holds nothing always is.
final class ByteBudget: Sendable {
    let limit: Int
    private let held = Mutex(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes `bytes` if they fit (or nothing is held); false when they do not.
    func take(_ bytes: Int) -> Bool {
        if bytes == 0 { return true }
        return held.withLock { held in
            guard held == 0 || held + bytes <= limit else { return false }
            held += bytes
            return true
        }
    }

    /// Gives back what `take` took.
    func give(_ bytes: Int) {
        held.withLock { $0 -= bytes }
    }
}

import Foundation
import Synchronization

/// Slows password guessing without letting anyone lock a user out (OWASP's advice: throttle
/// by account *and* address, with growing delays rather than a hard lock).
///
/// Failed logins are counted in memory within a sliding window under three keys:
/// * the account from one address: after `freeFailures` of them, each further attempt from
///   that address at that account waits a delay that doubles with each failure, from
///   `baseDelay` up to `maxDelay`. The same account from another address is not slowed, so
///   failures from an attacker's address never stop the user's right password from theirs.
/// * the address, whatever the account: past `perAddress` failures every attempt from it is
///   refused until the oldest leaves the window (one address spraying many accounts).
/// * the account, whatever the address: past `accountAlarm` failures (guessing spread over
///   many addresses) an address that has failed at the account even once gets no free
///   failures, so each such address is slowed from its first failure. An address that has
///   not failed at it, such as the user's own, still logs in at once.
///
/// An attempt counts as a failure from the moment it is let through (`begin`), so guesses
/// sent at once see each other; a successful login takes its count back and clears that
/// account-and-address's failures.
public final class LoginThrottle: Sendable {
    /// The limits.
    public struct Limits: Sendable {
        /// Failures of one account from one address before delays begin.
        public var freeFailures: Int
        /// The first delay; each further failure doubles it.
        public var baseDelay: TimeInterval
        /// The longest delay.
        public var maxDelay: TimeInterval
        /// Failures from one address, any account, before it is refused until they age out.
        public var perAddress: Int
        /// Failures of one account, any address, after which failed addresses get no free failures.
        public var accountAlarm: Int
        /// How long a failure counts.
        public var window: TimeInterval

        /// 5 free failures, then 1 s doubling up to 15 min; 100 per address; account alarm at 20;
        /// a 15-minute window.
        public init(
            freeFailures: Int = 5, baseDelay: TimeInterval = 1, maxDelay: TimeInterval = 900, perAddress: Int = 100,
            accountAlarm: Int = 20, window: TimeInterval = 900
        ) {
            self.freeFailures = freeFailures
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
            self.perAddress = perAddress
            self.accountAlarm = accountAlarm
            self.window = window
        }
    }

    private struct State {
        var failures: [String: [Date]] = [:]
        var checks = 0
    }

    private let limits: Limits
    private let state = Mutex(State())

    /// A throttle with these limits.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Seconds to wait before trying again, or nil when an attempt may go ahead; one that may
    /// is counted as a failure at once, under the same lock, until `succeeded`.
    public func begin(account: String, address: String?, now: Date = Date()) -> Int? {
        let keys = Keys(account: account, address: address)
        return state.withLock { state in
            if let wait = wait(state, keys, now: now) { return wait }
            record(&state, keys, now: now)
            return nil
        }
    }

    /// Seconds to wait before trying again, or nil when an attempt may go ahead (nothing counted).
    public func retryAfter(account: String, address: String?, now: Date = Date()) -> Int? {
        state.withLock { wait($0, Keys(account: account, address: address), now: now) }
    }

    private func wait(_ state: State, _ keys: Keys, now: Date) -> Int? {
        var wait: TimeInterval = 0
        let fromAddress = recent(state, keys.address, now: now)
        if fromAddress.count >= limits.perAddress, let oldest = fromAddress.first {
            wait = limits.window - now.timeIntervalSince(oldest)
        }
        let pair = recent(state, keys.pair, now: now)
        let free = recent(state, keys.account, now: now).count >= limits.accountAlarm ? 0 : limits.freeFailures
        if pair.count >= max(free, 1), let last = pair.last {
            let doublings = min(pair.count - max(free, 1), 30)
            let delay = min(limits.baseDelay * pow(2, Double(doublings)), limits.maxDelay)
            wait = max(wait, delay - now.timeIntervalSince(last))
        }
        return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
    }

    private func record(_ state: inout State, _ keys: Keys, now: Date) {
        state.checks += 1
        if state.checks % 1024 == 0 { prune(&state, now: now) }
        for key in [keys.pair, keys.address, keys.account] {
            var dates = recent(state, key, now: now)
            dates.append(now)
            state.failures[key] = dates
        }
    }

    /// A successful login: its attempt no longer counts as a failure, and the failures of
    /// that account from that address are cleared.
    public func succeeded(account: String, address: String?) {
        let keys = Keys(account: account, address: address)
        state.withLock { state in
            state.failures[keys.pair] = nil
            for key in [keys.address, keys.account] {
                state.failures[key]?.removeLast()
                if state.failures[key]?.isEmpty == true { state.failures[key] = nil }
            }
        }
    }

    /// The three counters an attempt touches. A request with no address (a local caller)
    /// counts as one address of its own.
    private struct Keys {
        let pair: String
        let address: String
        let account: String

        init(account: String, address: String?) {
            let account = account.lowercased()
            let address = address ?? "local"
            pair = "pair:\(address) \(account)"
            self.address = "address:" + address
            self.account = "account:" + account
        }
    }

    private func recent(_ state: State, _ key: String, now: Date) -> [Date] {
        (state.failures[key] ?? []).filter { now.timeIntervalSince($0) < limits.window }
    }

    private func prune(_ state: inout State, now: Date) {
        state.failures = state.failures.filter { _, dates in dates.contains { now.timeIntervalSince($0) < limits.window } }
    }
}

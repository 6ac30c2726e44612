import Foundation
import Synchronization

/// Limits failed logins per account and per client address within a sliding window. Past
/// the limit every attempt is refused (429) until the oldest failure leaves the window, so
/// guessing is slow while a user who mistypes a few times is not locked out.
public final class LoginThrottle: Sendable {
    /// The limits.
    public struct Limits: Sendable {
        /// Failures per account within the window.
        public var perAccount: Int
        /// Failures per client address within the window.
        public var perAddress: Int
        /// Window length.
        public var window: TimeInterval

        /// 10 per account and 50 per address in 15 minutes.
        public init(perAccount: Int = 10, perAddress: Int = 50, window: TimeInterval = 900) {
            self.perAccount = perAccount
            self.perAddress = perAddress
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

    /// Seconds to wait before trying again, or nil when an attempt may go ahead.
    public func retryAfter(account: String, address: String?, now: Date = Date()) -> Int? {
        state.withLock { state in
            state.checks += 1
            if state.checks % 1024 == 0 { prune(&state, now: now) }
            var wait: TimeInterval = 0
            for (key, limit) in keys(account: account, address: address) {
                let recent = (state.failures[key] ?? []).filter { now.timeIntervalSince($0) < limits.window }
                if recent.count >= limit, let oldest = recent.first {
                    wait = max(wait, limits.window - now.timeIntervalSince(oldest))
                }
            }
            return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
        }
    }

    /// Counts a failed attempt.
    public func failed(account: String, address: String?, now: Date = Date()) {
        state.withLock { state in
            for (key, _) in keys(account: account, address: address) {
                var recent = (state.failures[key] ?? []).filter { now.timeIntervalSince($0) < limits.window }
                recent.append(now)
                state.failures[key] = recent
            }
        }
    }

    /// A successful login clears the account's failures (not the address's).
    public func succeeded(account: String) {
        _ = state.withLock { $0.failures.removeValue(forKey: "account:" + account.lowercased()) }
    }

    private func keys(account: String, address: String?) -> [(String, Int)] {
        var keys = [("account:" + account.lowercased(), limits.perAccount)]
        if let address { keys.append(("address:" + address, limits.perAddress)) }
        return keys
    }

    private func prune(_ state: inout State, now: Date) {
        state.failures = state.failures.filter { _, dates in dates.contains { now.timeIntervalSince($0) < limits.window } }
    }
}

import Foundation
import Logging

/// Keeps one peer from flooding the log: each key (a peer's connection) may log `burst`
/// warnings per `interval`; the rest are counted, and the next warning logged for it says how
/// many were suppressed. Owned by one socket thread, like the socket it watches.
struct WarningLimiter {
    /// Warnings per key and interval.
    let burst: Int
    /// The interval.
    let interval: TimeInterval
    /// Keys remembered at most; past it, expired ones are forgotten and, if none has expired,
    /// every new key shares one budget, so memory stays bounded whatever peers do.
    let maxKeys: Int

    /// 5 warnings a minute per peer, 10,000 peers remembered.
    init(burst: Int = 5, interval: TimeInterval = 60, maxKeys: Int = 10_000) {
        self.burst = burst
        self.interval = interval
        self.maxKeys = maxKeys
    }

    private struct Entry {
        var windowStart: Date
        var logged: Int
        var suppressed: Int
    }

    private var entries: [[UInt8]: Entry] = [:]
    /// When expired keys were last looked for: at most once an interval, so a crowd of new
    /// peers never costs a pass over the table each.
    private var lastSweep = Date.distantPast
    private static let overflowKey: [UInt8] = []

    /// Whether to log a warning for `key` now; when it is, how many were suppressed before it.
    mutating func admit(_ key: [UInt8], now: Date = Date()) -> (admitted: Bool, suppressed: Int) {
        var key = key
        if entries[key] == nil, entries.count >= maxKeys {
            if now.timeIntervalSince(lastSweep) >= interval {
                entries = entries.filter { now.timeIntervalSince($0.value.windowStart) < interval }
                lastSweep = now
            }
            if entries.count >= maxKeys { key = Self.overflowKey }
        }
        var entry = entries[key] ?? Entry(windowStart: now, logged: 0, suppressed: 0)
        if now.timeIntervalSince(entry.windowStart) >= interval {
            entry.windowStart = now
            entry.logged = 0
        }
        guard entry.logged < burst else {
            entry.suppressed += 1
            entries[key] = entry
            return (false, entry.suppressed)
        }
        let suppressed = entry.suppressed
        entry.logged += 1
        entry.suppressed = 0
        entries[key] = entry
        return (true, suppressed)
    }

    /// Logs `message` as a warning about `peer`, unless that peer has had its share, with the
    /// peer (its first bytes, in hex) and how many warnings were suppressed since the last.
    mutating func warn(_ message: Logger.Message, peer: [UInt8], _ metadata: Logger.Metadata, to logger: Logger) {
        let (admitted, suppressed) = admit(peer)
        guard admitted else { return }
        var metadata = metadata
        metadata["peer"] = "\(peer.prefix(8).map { String(format: "%02x", $0) }.joined())"
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.warning(message, metadata: metadata)
    }
}

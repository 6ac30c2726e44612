import AgentOSClient
import Foundation
import Logging
import ServiceLifecycle

/// Pushes the outbox while the desktop is attached (`desktop attach`): it looks every `interval` for runs waiting, pushes them, and after a failed push
/// (offline, the server failing) waits twice as long each time, up to `maxDelay`, with
/// jitter, so that desktops coming back online do not all push at once.
public final class OutboxService: Service, Sendable {
    private let store: DesktopStore
    private let account: Account
    private let configDirectory: ConfigDirectory
    private let lockPath: String
    private let logger: Logger
    private let interval: Duration
    private let maxDelay: Duration

    public init(
        store: DesktopStore, account: Account, configDirectory: ConfigDirectory, dataDirectory: DesktopDataDirectory, logger: Logger,
        interval: Duration = .seconds(5), maxDelay: Duration = .seconds(300)
    ) {
        self.store = store
        self.account = account
        self.configDirectory = configDirectory
        self.lockPath = dataDirectory.path + "/outbox.lock"
        self.logger = logger
        self.interval = interval
        self.maxDelay = maxDelay
    }

    /// The wait after `failures` failed pushes in a row: `interval` doubled each time, at most
    /// `maxDelay`, times a random factor in 0.5…1.5 (none before the first failure).
    static func delay(afterFailures failures: Int, interval: Duration, maxDelay: Duration, jitter: Double = Double.random(in: 0.5...1.5)) -> Duration {
        guard failures > 0 else { return interval }
        let doubled = interval * (1 << min(failures, 16))
        return min(doubled, maxDelay) * jitter
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                try await Task.sleep(for: Self.delay(afterFailures: failures, interval: self.interval, maxDelay: self.maxDelay))
                guard (try? self.store.runCounts(account: self.account)[.pending]) ?? 0 > 0 else {
                    failures = 0
                    continue
                }
                let failure: String?
                do {
                    let credentials = try await self.configDirectory.freshCredentials()
                    // Logged in as someone else since: this account's runs wait for its own login.
                    guard Account(userID: credentials.userID, gateway: credentials.gateway) == self.account else {
                        if failures == 0 {
                            self.logger.warning("the login changed; this desktop's runs wait until \(self.account.userID) at \(self.account.gateway) logs in again")
                        }
                        failures += 1
                        continue
                    }
                    let client = try GatewayClient(credentials: credentials)
                    let outbox = RunOutbox(store: self.store, client: client, account: self.account, lockPath: self.lockPath)
                    let report = try await outbox.push()
                    if report.synced > 0 || report.rejected > 0 {
                        self.logger.info("outbox pushed", metadata: [
                            "synced": "\(report.synced)", "refused": "\(report.rejected)", "waiting": "\(report.waiting)",
                        ])
                    }
                    failure = report.stoppedBecause
                } catch is CancellationError {
                    return
                } catch {
                    failure = "\(error)"
                }
                if let failure {
                    failures += 1
                    // Said once per outage, not at every retry.
                    if failures == 1 { self.logger.warning("local runs wait to sync; retrying with backoff", metadata: ["reason": "\(failure)"]) }
                } else {
                    failures = 0
                }
            }
        }
    }
}

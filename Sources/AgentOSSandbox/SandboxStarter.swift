import Logging
import Synchronization

/// Starts sandboxes ready for a job: forked by the profile's fork server when the engine has
/// them, else cold (bubblewrap and a fresh interpreter).
///
/// A fork that fails is tried once more (a server that died is relaunched by then), and then
/// the sandbox starts cold: a job never fails because forking did. After `maxForkFailures`
/// starts in a row that could not fork, the fork servers are released and every sandbox
/// starts cold for `coolDown`, which the log says; then forking is tried again. A machine
/// where forking cannot work at all so pays for a few failed forks per `coolDown`.
final class SandboxStarter: Sendable {
    static let maxForkFailures = 3

    let launcher: SandboxLauncher
    let forkServers: (any SandboxForking)?
    /// How long every sandbox starts cold after `maxForkFailures` (5 minutes).
    let coolDown: Duration
    /// The time now; a test moves it on instead of sleeping through `coolDown`.
    private let now: @Sendable () -> ContinuousClock.Instant
    private let logger: Logger
    private let state = Mutex(ForkState())
    private let forked = Atomic<Int>(0)
    private let cold = Atomic<Int>(0)

    private struct ForkState {
        /// Starts in a row that could not fork.
        var failures = 0
        /// Until when every sandbox starts cold.
        var offUntil: ContinuousClock.Instant?
    }

    init(
        launcher: SandboxLauncher, forkServers: (any SandboxForking)?, coolDown: Duration = .seconds(300),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }, logger: Logger
    ) {
        self.launcher = launcher
        self.forkServers = forkServers
        self.coolDown = coolDown
        self.now = now
        self.logger = logger
    }

    /// Sandboxes started by forking, and cold.
    var forkedStarts: Int { forked.load(ordering: .relaxed) }
    var coldStarts: Int { cold.load(ordering: .relaxed) }
    /// Whether sandboxes are being forked now (false without fork servers, or while they rest
    /// after failing).
    var isForking: Bool {
        guard forkServers != nil else { return false }
        let now = now()
        return state.withLock { $0.offUntil.map { now >= $0 } ?? true }
    }

    /// A sandbox for `profile` that has said it is ready. The caller holds a lease on the
    /// profile's environment.
    func start(_ profile: SandboxProfile, timeout: Duration) throws -> SandboxProcess {
        // A fork server's mount namespace holds no host folder to bind: those start cold.
        if let forkServers, isForking, profile.folders.isEmpty {
            var failure: (any Error)?
            for _ in 0..<2 {
                do {
                    let sandbox = try forkServers.start(profile)
                    try sandbox.waitReady(timeout: timeout)
                    state.withLock { $0 = ForkState() }
                    forked.add(1, ordering: .relaxed)
                    return sandbox
                } catch {
                    // Closing: no sandbox starts any more, cold or forked.
                    if forkServers.isStopped { throw SandboxError("the sandbox engine is closed") }
                    failure = error
                }
            }
            noteFailure(failure, of: forkServers)
        }
        let sandbox = try launcher.startRunner(profile)
        try sandbox.waitReady(timeout: timeout)
        cold.add(1, ordering: .relaxed)
        return sandbox
    }

    /// Counts a start that could not fork; the last of `maxForkFailures` rests the servers.
    private func noteFailure(_ error: (any Error)?, of forkServers: any SandboxForking) {
        let now = now()
        let resting = state.withLock { state -> Bool in
            state.failures += 1
            guard state.failures >= Self.maxForkFailures else { return false }
            state = ForkState(failures: 0, offUntil: now + coolDown)
            return true
        }
        let metadata: Logger.Metadata = ["error": "\(error.map { "\($0)" } ?? "unknown")"]
        if resting {
            logger.error("fork servers could not start \(Self.maxForkFailures) sandboxes in a row; every sandbox starts cold (slower) for \(coolDown)", metadata: metadata)
            forkServers.releaseAll()
        } else {
            logger.warning("a fork server could not start a sandbox; this one starts cold", metadata: metadata)
        }
    }

    func stop() {
        forkServers?.stop()
    }
}

/// What forks sandboxes for a `SandboxStarter`: the engine's `ForkServers`.
protocol SandboxForking: Sendable {
    /// A sandbox for `profile`, forked; not ready yet.
    func start(_ profile: SandboxProfile) throws -> SandboxProcess
    /// Lets go of every server (each stops once its sandboxes are gone).
    func releaseAll()
    /// Stops every server; no more start.
    func stop()
    /// Whether `stop()` was called.
    var isStopped: Bool { get }
}

extension ForkServers: SandboxForking {}

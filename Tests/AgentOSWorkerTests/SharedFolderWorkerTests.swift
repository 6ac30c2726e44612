@testable import AgentOSWorker
import AgentOSSandbox
import AgentOSWire
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// A worker and the folders it shares: a job gets exactly the shared folders it names, and a
/// job naming one that is not shared fails with `folder_not_shared` without running.
@Suite struct SharedFolderWorkerTests {
    /// Records the folders each run was given, and runs nothing.
    final class RecordingEngine: JobEngine {
        let runs = Mutex<[[SharedFolder]]>([])

        func run(_ job: JobAssignment, inputFiles: String?) async -> JobOutcome {
            await run(job, context: JobRunContext(inputFiles: inputFiles))
        }

        func run(_ job: JobAssignment, context: JobRunContext) async -> JobOutcome {
            runs.withLock { $0.append(context.folders) }
            return JobOutcome(
                jobID: job.jobID, attempt: job.attempt, status: .succeeded, result: .array(context.folders.map { .string($0.sandboxPath) }))
        }
    }

    static let photos = SharedFolder(name: "photos", path: "/home/me/photos", writable: false)
    static let out = SharedFolder(name: "out", path: "/srv/out", writable: true)

    func configuration(_ kind: WorkerKind, folders: [SharedFolder], endpoint: String = "tcp://127.0.0.1:1") -> WorkerConfiguration {
        var configuration = WorkerConfiguration(
            serverEndpoint: endpoint, kind: kind,
            credential: kind == .private ? WorkerCredential(accessToken: "t") : WorkerCredential(workerToken: "t"))
        configuration.folders = folders
        return configuration
    }

    func job(_ id: String, dirs: [String]) -> JobAssignment {
        JobAssignment(jobID: id, attempt: 1, code: "def main():\n    return 1", inputs: [:], limits: JobLimits(), dirs: dirs)
    }

    @Test func aJobGetsOnlyTheFoldersItNames() throws {
        let desktop = configuration(.private, folders: [Self.photos, Self.out])
        #expect(try desktop.folders(for: job("a", dirs: [])) == [])
        #expect(try desktop.folders(for: job("b", dirs: ["out"])) == [Self.out])
        #expect(try desktop.folders(for: job("c", dirs: ["out", "photos"])) == [Self.out, Self.photos])
    }

    /// Why `configuration` refuses a job naming `dirs`, or nil when it takes it.
    func refusal(_ configuration: WorkerConfiguration, _ dirs: [String]) -> FolderNotShared? {
        do {
            _ = try configuration.folders(for: job("j", dirs: dirs))
            return nil
        } catch {
            return error
        }
    }

    @Test func aFolderNotSharedIsAClearError() throws {
        let desktop = configuration(.private, folders: [Self.photos, Self.out])
        let refused = try #require(refusal(desktop, ["photos", "taxes"]))
        #expect(refused.missing == ["taxes"])
        #expect(refused.description == """
            folder_not_shared: this desktop shares no folder named "taxes" (it shares: out, photos); \
            start agentos desktop attach --dir PATH to share it
            """)
        #expect(refusal(desktop, ["Photos"])?.missing == ["Photos"], "names are compared exactly")
        let none = try #require(refusal(configuration(.private, folders: []), ["x", "y"]))
        #expect(none.description.hasPrefix(#"folder_not_shared: this desktop shares no folder named "x", "y" (it shares none)"#), "\(none)")
        #expect(none.description.hasSuffix("to share them"))
        let cloud = try #require(refusal(configuration(.cloud, folders: []), ["x"]))
        #expect(cloud.description.hasPrefix("folder_not_shared: a cloud worker shares no folders"), "\(cloud)")
    }

    /// Through a real worker on a scripted bus: the unshared job fails at once and the engine
    /// never sees it; the shared one runs with its folder only. The `HELLO` names the folders.
    @Test func theWorkerFailsAJobNamingAnUnsharedFolderWithoutRunningIt() async throws {
        let server = try WorkerAgentTests.FakeServer()
        let engine = RecordingEngine()
        let agent = try WorkerAgent(
            configuration: configuration(.private, folders: [Self.photos, Self.out], endpoint: server.endpoint), engine: engine,
            logger: Logger(label: "test"))
        let group = ServiceGroup(services: [agent], logger: Logger(label: "test"))
        let running = Task { try await group.run() }

        let (identity, helloMessage) = try await server.next()
        let hello = try helloMessage.decode(Hello.self)
        #expect(hello.folders == ["out", "photos"], "the names only, never the host paths")
        try server.send(identity, .welcome, Welcome(workerID: hello.workerID, heartbeatMS: 1000, deadAfterIntervals: 60, serverVersion: "t"))

        try server.send(identity, .job, job("unshared", dirs: ["photos", "taxes"]))
        #expect(try await server.next().1.command == .started)
        let failed = try await server.next().1.decode(JobOutcome.self)
        #expect(failed.jobID == "unshared" && failed.status == .failed && failed.exitCode == nil)
        #expect(failed.error?.hasPrefix(#"folder_not_shared: this desktop shares no folder named "taxes""#) == true, "\(failed)")
        #expect(engine.runs.withLock { $0.isEmpty }, "nothing ran")

        try server.send(identity, .job, job("shared", dirs: ["out"]))
        #expect(try await server.next().1.command == .started)
        let succeeded = try await server.next().1.decode(JobOutcome.self)
        #expect(succeeded.jobID == "shared" && succeeded.status == .succeeded && succeeded.result == ["/mnt/out"], "\(succeeded)")
        #expect(engine.runs.withLock { $0 } == [[Self.out]], "only the folder it named")

        await group.triggerGracefulShutdown()
        #expect(try await server.next().1.command == .drain)
        #expect(try await server.next().1.command == .bye)
        try await running.value
    }
}

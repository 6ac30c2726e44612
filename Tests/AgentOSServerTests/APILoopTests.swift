@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing
import ZeroMQ

/// The API socket checks what gateways tell it and bounds what it holds.
@Suite struct APILoopTests {
    /// An API loop over a harness's handler, with a gateway-side DEALER connected to it.
    final class Socketed {
        let harness: APIHarness
        let context: Context
        let dealer: Socket
        let running: Task<Void, any Error>

        init(maxInFlightBytes: Int = APILoop.defaultMaxInFlightBytes) async throws {
            harness = try await APIHarness()
            context = try Context()
            let api = try APILoop(
                context: context, endpoint: "tcp://127.0.0.1:*", handler: harness.handler, executor: ThreadPoolExecutor(threads: 2),
                maxInFlightBytes: maxInFlightBytes, logger: .init(label: "test"))
            dealer = try context.makeSocket(.dealer)
            try dealer.setLinger(0)
            try dealer.connect(api.boundEndpoint)
            let loop = try SocketLoop(name: "test-api", driver: api)
            running = Task { try await loop.run() }
        }

        func send(_ request: APIRequest) throws {
            _ = try dealer.send(request.frames)
        }

        /// The next response, read on a thread of its own.
        func response() async -> APIResponse? {
            let dealer = self.dealer
            return await withCheckedContinuation { continuation in
                Thread {
                    let deadline = Date().addingTimeInterval(60)
                    while Date() < deadline {
                        if let frames = try? dealer.receive(dontWait: true) {
                            return continuation.resume(returning: try? APIResponse(frames: frames[...]))
                        }
                        usleep(2000)
                    }
                    continuation.resume(returning: nil)
                }.start()
            }
        }

        deinit {
            running.cancel()
            dealer.close()
        }
    }

    @Test func aClientFieldThatIsNotAnAddressIsRefused() async throws {
        let api = try await Socketed()
        for client in ["203.0.113.9<script>", "", "localhost", "1.2.3.4:80", String(repeating: "1", count: 100)] {
            try api.send(APIRequest(id: "bad", operation: .health, token: nil, params: [:], body: Data(), contentType: nil, client: client))
            let answer = try #require(await api.response())
            #expect(answer.id == "bad" && answer.status == 400, "\(client)")
            #expect(answer.json?["error"]?["message"] == "client must be an IPv4 or IPv6 address")
        }
        for client in ["203.0.113.9", "::1", "::ffff:127.0.0.1", "2001:db8::1"] {
            try api.send(APIRequest(id: "good", operation: .health, token: nil, params: [:], body: Data(), contentType: nil, client: client))
            let answer = try #require(await api.response())
            #expect(answer.status == 200, "\(client)")
        }
    }

    @Test func requestsPastTheInFlightBytesAreAnswered503AtOnce() async throws {
        let api = try await Socketed(maxInFlightBytes: 1 << 20)
        let admin = try api.harness.user("admin", role: .admin)
        let token = try await api.harness.token(for: admin)
        _ = try api.harness.store.createProject(name: "p", owner: admin.id)
        let submitted = await api.harness.call(.submitJob, token: token, params: ["project": "p"], body: ["code": "pass"])
        let jobID = try #require(submitted.body["id"]?.stringValue)
        // A large upload waits for the job (which no worker runs) with the bytes in flight…
        let large = Data(count: 900 << 10)
        try api.send(APIRequest(id: "wait", operation: .getJob, token: token, params: ["id": jobID, "wait": "300"], body: large, contentType: nil, client: "10.0.0.1"))
        // …so the next large request is turned away at once, and a small one is not.
        try api.send(APIRequest(id: "upload", operation: .uploadFile, token: token, params: ["project": "p", "name": "f"], body: large, contentType: "text/plain", client: "10.0.0.1"))
        let busy = try #require(await api.response())
        #expect(busy.id == "upload" && busy.status == 503 && busy.headers["Retry-After"] == "1", "\(busy.status)")
        try api.send(APIRequest(id: "small", operation: .getJob, token: token, params: ["id": jobID], body: Data(), contentType: nil, client: "10.0.0.1"))
        let small = try #require(await api.response())
        #expect(small.id == "small" && small.status == 200)
    }
}

@Suite struct DownloadBudgetTests {
    @Test func downloadsPastTheBytesInFlightAre503UntilOthersFinish() async throws {
        var limits = APIHandler.Limits()
        limits.maxDownloadBytesInFlight = 1024
        let h = try await APIHarness(limits: limits)
        let admin = try h.user("admin", role: .admin)
        let token = try await h.token(for: admin)
        _ = try h.store.createProject(name: "p", owner: admin.id)
        let uploaded = await h.call(.uploadFile, token: token, params: ["project": "p", "name": "f.bin"], raw: Data(count: 100))
        let id = try #require(uploaded.body["id"]?.stringValue)
        // Other downloads hold most of the budget.
        #expect(h.handler.files.downloads.take(1000))
        let busy = await h.call(.downloadFile, token: token, params: ["file": id])
        #expect(busy.status == 503 && busy.headers?["Retry-After"] == "1", "\(busy.body)")
        h.handler.files.downloads.give(1000)
        let served = await h.call(.downloadFile, token: token, params: ["file": id])
        #expect(served.status == 200 && served.raw.count == 100)
        // One download is always let in, however large.
        #expect(ByteBudget(limit: 10).take(1 << 30))
    }
}

@Suite struct BusKeyDerivationTests {
    /// The test vector of docs/PROTOCOL.md §1.1.
    @Test func aCredentialsKeyPairIsTheDocumentedOne() throws {
        let pair = try BusKeys.keyPair(forCredential: "aow_example-worker-token")
        #expect(pair.secretKey == "(jFX}q(D0&UXrtrCh<bxTmA=I^zQ%HMpdvW3rWp+")
        #expect(pair.publicKey == "(.+ItII.XXGPTe}PmnCo{iC+F[F4p9yf5+CbjFCQ")
        #expect(BusKeys.publicKey(forCredential: "aow_example-worker-token") == pair.publicKey)
    }
}

import Foundation
import Testing
import ZeroMQ

@Suite struct SocketTests {
    @Test func reportsTheLinkedLibrary() {
        #expect(ZeroMQ.version.major == 4)
        #expect(!ZeroMQ.has("no-such-capability"))
    }

    @Test func pairRoundTripsByteFramesIncludingAnEmptyOne() throws {
        let context = try Context()
        let server = try context.lingerlessSocket(.pair)
        let client = try context.lingerlessSocket(.pair)
        try server.bind("inproc://pair")
        try client.connect("inproc://pair")

        let frames: [[UInt8]] = ["first".frame, [], [0, 255, 7]]
        #expect(try client.send(frames))
        #expect(try server.receive() == frames)
    }

    @Test func pairRoundTripsDataFramesIncludingAnEmptyOne() throws {
        let context = try Context()
        let server = try context.lingerlessSocket(.pair)
        let client = try context.lingerlessSocket(.pair)
        try server.bind("inproc://pair")
        try client.connect("inproc://pair")

        let frames = [Data("header".utf8), Data(), Data([1, 2, 3])]
        #expect(try server.send(frames))
        #expect(try client.receive() == frames.map { Array($0) })
    }

    @Test func routerSeesTheDealersRoutingIDAndRoutesTheReplyBack() throws {
        let context = try Context()
        let router = try context.lingerlessSocket(.router)
        let dealer = try context.lingerlessSocket(.dealer)
        try router.setReceiveTimeout(2000)
        try dealer.setReceiveTimeout(2000)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix("*"))

        try dealer.setRoutingID("dealer-1".frame)
        try dealer.connect(endpoint)
        try dealer.send(["ping".frame])

        let request = try #require(try router.receive())
        #expect(request == ["dealer-1".frame, "ping".frame])

        try router.send([request[0], "pong".frame])
        #expect(try dealer.receive() == ["pong".frame])
    }

    @Test func routerMandatoryRejectsAnUnknownPeer() throws {
        let context = try Context()
        let router = try context.lingerlessSocket(.router)
        try router.bind("inproc://router")
        let message = ["nobody".frame, "hello".frame]

        // Without the option libzmq silently drops the message.
        #expect(try router.send(message))

        try router.setRouterMandatory(true)
        let error = #expect(throws: ZMQError.self) { try router.send(message) }
        #expect(error?.isHostUnreachable == true)
    }

    @Test func sendWithoutWaitingReportsAFullQueue() throws {
        let context = try Context()
        let push = try context.lingerlessSocket(.push)
        try push.bind("inproc://nobody-listens")
        // A PUSH socket with no peer has nowhere to queue the message.
        #expect(try push.send(["dropped".frame], dontWait: true) == false)
    }

    @Test func receiveWithoutWaitingReturnsNilWhenNothingIsQueued() throws {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        try pull.bind("inproc://empty")
        #expect(try pull.receive(dontWait: true) == nil)
        #expect(try pull.isReadable == false)
    }

    @Test func receiveReturnsNilWhenTheReceiveTimeoutExpires() throws {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        try pull.bind("inproc://empty")
        try pull.setReceiveTimeout(50)

        let start = ContinuousClock.now
        #expect(try pull.receive() == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(40))
    }

    @Test func closeIsIdempotentAndLaterCallsFail() throws {
        let context = try Context()
        let socket = try context.lingerlessSocket(.pair)
        socket.close()
        socket.close()
        #expect(throws: ZMQError.self) { try socket.bind("inproc://closed") }
    }

    @Test func maxMessageSizeDropsTheConnectionInsteadOfDeliveringAnOversizedMessage() throws {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        let push = try context.lingerlessSocket(.push)
        try pull.setMaxMessageSize(64)
        try pull.setReceiveTimeout(2000)
        try pull.bind("tcp://127.0.0.1:*")
        try push.connect(pull.lastEndpoint)

        let small = [UInt8](repeating: 1, count: 64)
        try push.send([small])
        try push.send([[UInt8](repeating: 2, count: 1000)])

        #expect(try pull.receive() == [small])
        try pull.setReceiveTimeout(300)
        #expect(try pull.receive() == nil)
    }

    @Test func contextShutdownWakesABlockedReceiveWithETERM() async throws {
        let context = try Context()
        let pull = try context.lingerlessSocket(.pull)
        try pull.bind("inproc://shutdown")
        // Guards against hanging: a broken shutdown makes receive return nil instead.
        try pull.setReceiveTimeout(5000)

        async let outcome = receiveOnThread(pull)
        try await Task.sleep(for: .milliseconds(50))
        context.shutdown()

        switch await outcome {
        case .success(let message):
            Issue.record("receive returned \(String(describing: message)) instead of throwing")
        case .failure(let error):
            #expect((error as? ZMQError)?.isTerminated == true)
        }
        pull.close()
    }

    /// Runs a blocking `receive()` on a dedicated thread, as a socket's owner thread would.
    private func receiveOnThread(_ socket: Socket) async -> Result<[[UInt8]]?, any Error> {
        await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: Result { try socket.receive() })
            }.start()
        }
    }
}

import Foundation
import Testing
import ZeroMQ

@Suite(.enabled(if: ZeroMQ.has("curve"), "libzmq built without CURVE"))
struct ZAPTests {
    @Test func aZAPHandlerDecidesWhoConnectsAndTheClientsMonitorSaysWhy() throws {
        let context = try Context()
        let zap = try context.lingerlessSocket(.rep)
        try zap.bind(ZAPRequest.endpoint)
        let server = try CurveKeyPair.generate()
        let router = try context.lingerlessSocket(.router)
        try router.setCurveServer(secretKey: server.secretKey)
        try router.setZAPDomain("test")
        try router.setReceiveTimeout(100)
        try router.bind("tcp://127.0.0.1:*")
        let welcome = try CurveKeyPair.generate()

        // One client the handler knows, one it does not.
        var dealers: [Socket] = []
        var monitors: [Socket] = []
        for keys in [welcome, try CurveKeyPair.generate()] {
            let dealer = try context.lingerlessSocket(.dealer)
            try dealer.setCurveClient(CurveClient(serverPublicKey: server.publicKey, keyPair: keys))
            monitors.append(try dealer.monitor(events: MonitorEvent.handshakeSucceeded | MonitorEvent.handshakeFailedAuth))
            try dealer.connect(router.lastEndpoint)
            try dealer.send([Array(keys.publicKey.utf8)])
            try zap.setReceiveTimeout(10_000)
            let frames = try #require(try zap.receive())
            let request = try ZAPRequest(frames: frames)
            #expect(request.domain == "test" && request.mechanism == "CURVE" && request.address == "127.0.0.1")
            let known = request.curvePublicKey == welcome.publicKey
            try zap.send(request.reply(known ? .success : .authenticationFailure, known ? "OK" : "who are you", userID: known ? "u1" : ""))
            dealers.append(dealer)
        }
        try monitors[0].setReceiveTimeout(10_000)
        try monitors[1].setReceiveTimeout(10_000)
        let succeeded = try #require(try monitors[0].receive())
        #expect(MonitorEvent(frames: succeeded)?.event == MonitorEvent.handshakeSucceeded)
        let refusedFrames = try #require(try monitors[1].receive())
        let refused = try #require(MonitorEvent(frames: refusedFrames))
        #expect(refused.event == MonitorEvent.handshakeFailedAuth && refused.value == 400)

        // Only the known client's message arrives.
        var received: [String] = []
        try router.setReceiveTimeout(2000)
        while let message = try router.receive() { received.append(String(decoding: message[1], as: UTF8.self)) }
        #expect(received == [welcome.publicKey])
        withExtendedLifetime(dealers) {}
    }

    @Test func requestsAreParsedAndRepliesFollowRFC27() throws {
        let key = try CurveKeyPair.generate()
        let frames: [[UInt8]] = ["1.0", "7", "bus", "10.0.0.2", "", "CURVE"].map { Array($0.utf8) } + [try Z85.decode(key.publicKey)]
        let request = try ZAPRequest(frames: frames)
        #expect(request.requestID == Array("7".utf8) && request.curvePublicKey == key.publicKey)
        #expect(request.reply(.authenticationFailure, "no") == ["1.0", "7", "400", "no", "", ""].map { Array($0.utf8) })
        #expect(throws: ZMQError.self) { try ZAPRequest(frames: Array(frames.prefix(5))) }
        #expect(throws: ZMQError.self) { try ZAPRequest(frames: [Array("2.0".utf8)] + frames.dropFirst()) }
        #expect(try ZAPRequest(frames: Array(frames.prefix(6))).curvePublicKey == nil)
    }

    @Test func aKeyPairFromThirtyTwoBytesIsThatPairEveryTime() throws {
        let seed = (0..<32).map { UInt8($0) }
        let pair = try CurveKeyPair(secretBytes: seed)
        #expect(try CurveKeyPair(secretBytes: seed) == pair)
        #expect(try Z85.decode(pair.secretKey) == seed)
        #expect(CurveKeyPair.isValidKey(pair.publicKey) && !CurveKeyPair.isValidKey("short"))
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretBytes: [1, 2, 3]) }
    }

    @Test(arguments: [
        ("tcp://127.0.0.1:5555", true), ("tcp://127.8.9.1:*", true), ("tcp://localhost:5555", true), ("tcp://[::1]:5555", true),
        ("ipc:///tmp/bus", true), ("inproc://bus", true), ("tcp://0.0.0.0:5555", false), ("tcp://*:5555", false),
        ("tcp://[::]:5555", false), ("tcp://10.0.0.1:5555", false), ("tcp://eth0:5555", false), ("tcp://127.0.0.1.evil.com:5555", false),
        ("tcp://10.0.0.2;127.0.0.1:5555", true), ("tcp://127.0.0.1;10.0.0.1:5555", false), ("udp://127.0.0.1:5555", false),
    ])
    func loopbackEndpointsAreTold(endpoint: String, local: Bool) {
        #expect(Endpoint.isLocal(endpoint) == local)
    }
}

@Suite struct EndpointWildcardTests {
    @Test func aWildcardBindIsReachedAtTheHostGiven() {
        #expect(Endpoint.wildcardPort("tcp://0.0.0.0:5555") == "5555" && Endpoint.wildcardPort("tcp://*:1") == "1")
        #expect(Endpoint.wildcardPort("tcp://127.0.0.1:5555") == nil && Endpoint.wildcardPort("ipc:///x") == nil)
        #expect(Endpoint.reaching("tcp://*:5555", at: "10.0.0.7") == "tcp://10.0.0.7:5555")
        #expect(Endpoint.reaching("tcp://[::]:5555", at: "::1") == "tcp://[::1]:5555")
        #expect(Endpoint.reaching("tcp://bus.example.com:5555", at: "10.0.0.7") == "tcp://bus.example.com:5555")
    }
}

@Suite(.enabled(if: ZeroMQ.has("curve"), "libzmq built without CURVE"))
struct KeyTextOrFileTests {
    @Test func aKeyIsTakenAsTextOrFromAFileAndAnythingElseIsNil() throws {
        let key = try CurveKeyPair.generate().publicKey
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString).pub").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data((key + "\n").utf8).write(to: URL(fileURLWithPath: file))
        #expect(CurveKeyPair.key(inTextOrFile: key) == key)
        #expect(CurveKeyPair.key(inTextOrFile: file) == key)
        #expect(CurveKeyPair.key(inTextOrFile: "/nonexistent/key.pub") == nil)
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: file))
        #expect(CurveKeyPair.key(inTextOrFile: file) == nil)
    }
}

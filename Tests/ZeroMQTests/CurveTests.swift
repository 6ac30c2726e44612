import Testing
import ZeroMQ

@Suite(.enabled(if: ZeroMQ.has("curve"), "libzmq built without CURVE"))
struct CurveTests {
    @Test func generatesDistinctZ85KeyPairs() throws {
        let first = try CurveKeyPair.generate()
        let second = try CurveKeyPair.generate()
        #expect(first.publicKey.utf8.count == 40)
        #expect(first.secretKey.utf8.count == 40)
        #expect(try Z85.decode(first.publicKey).count == 32)
        #expect(first != second)
    }

    @Test func derivesThePublicKeyFromTheSecretKey() throws {
        let pair = try CurveKeyPair.generate()
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "too short") }
    }

    @Test func encryptedExchangeWorksWithTheRightServerKey() throws {
        let server = try CurveKeyPair.generate()
        let message = try exchange(serverKeys: server, clientTrusts: server.publicKey, timeoutMs: 2000)
        #expect(message?.last == "secret".frame)
        #expect(message?.count == 2)
    }

    @Test func nothingArrivesWithTheWrongServerKey() throws {
        let server = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        #expect(try exchange(serverKeys: server, clientTrusts: impostor.publicKey, timeoutMs: 300) == nil)
    }

    /// Sends one message from a CURVE DEALER to a CURVE ROUTER and returns what the router received, if anything.
    private func exchange(serverKeys: CurveKeyPair, clientTrusts serverPublicKey: String, timeoutMs: Int32) throws -> [[UInt8]]? {
        let context = try Context()
        let router = try context.lingerlessSocket(.router)
        let dealer = try context.lingerlessSocket(.dealer)
        try router.setCurveServer(secretKey: serverKeys.secretKey)
        try router.setReceiveTimeout(timeoutMs)
        try router.bind("tcp://127.0.0.1:*")

        try dealer.setCurveClient(serverPublicKey: serverPublicKey, keyPair: CurveKeyPair.generate())
        try dealer.connect(router.lastEndpoint)
        try dealer.send(["secret".frame])
        return try router.receive()
    }
}

import Testing
import ZeroMQ

@Suite struct Z85Tests {
    /// The test vector from ZMQ RFC 32.
    let helloWorldBytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]

    @Test func encodesTheRFCVector() throws {
        #expect(try Z85.encode(helloWorldBytes) == "HelloWorld")
    }

    @Test func decodesTheRFCVector() throws {
        #expect(try Z85.decode("HelloWorld") == helloWorldBytes)
    }

    @Test func roundTripsRandomBytes() throws {
        for length in stride(from: 0, through: 128, by: 4) {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max) }
            let text = try Z85.encode(bytes)
            #expect(text.utf8.count == length * 5 / 4)
            #expect(try Z85.decode(text) == bytes)
        }
    }

    @Test func rejectsBytesNotAMultipleOfFour() {
        #expect(throws: ZMQError.self) { try Z85.encode([1, 2, 3]) }
    }

    @Test func rejectsTextNotAMultipleOfFive() {
        #expect(throws: ZMQError.self) { try Z85.decode("Hell") }
    }

    @Test func rejectsCharactersOutsideTheAlphabet() {
        #expect(throws: ZMQError.self) { try Z85.decode("Hello,orld") }
        #expect(throws: ZMQError.self) { try Z85.decode("Hello\u{0}orld") }
    }

    @Test func rejectsGroupsAboveUInt32() {
        // "#####" is 84 * (85^4 + 85^3 + 85^2 + 85 + 1), which exceeds 2^32 - 1.
        #expect(throws: ZMQError.self) { try Z85.decode("#####") }
    }
}

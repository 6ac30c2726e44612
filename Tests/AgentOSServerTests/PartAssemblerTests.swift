@testable import AgentOSServer
import AgentOSWire
import Foundation
import Testing

@Suite struct PartAssemblerTests {
    let large = BusMessage(.result, JobOutcome(jobID: "j", attempt: 1, status: .succeeded, stdout: String(repeating: "a", count: 700 << 10)))

    @Test func partsInOrderMakeTheMessageAgain() throws {
        let parts = large.parts(messageID: "m")
        #expect(parts.count == 3 && parts.allSatisfy { $0.command == .part })
        #expect(BusMessage(.heartbeat, ["running": [String]()]).parts().count == 1, "a small message goes whole")
        var assembler = PartAssembler()
        for part in parts.dropLast() { #expect(try assembler.add(part.decode(MessagePart.self), from: [1]) == nil) }
        let whole = try #require(try assembler.add(parts.last!.decode(MessagePart.self), from: [1]))
        #expect(whole.command == .result && whole.body == large.body)
        #expect(assembler.count == 0)
    }

    @Test func piecesOutOfOrderOrOverTheLimitsAreRefused() throws {
        let parts = try large.parts(messageID: "m").map { try $0.decode(MessagePart.self) }
        var assembler = PartAssembler()
        _ = try assembler.add(parts[0], from: [1])
        #expect(throws: BusDecodingError.self) { try assembler.add(parts[2], from: [1]) }
        #expect(assembler.count == 0, "what came before is dropped")
        #expect(throws: BusDecodingError.self) { try assembler.add(parts[1], from: [1]) }
        // Another connection's pieces are its own.
        _ = try assembler.add(parts[0], from: [2])
        #expect(throws: BusDecodingError.self) { try assembler.add(parts[1], from: [3]) }
        var hello = parts[0]
        hello.command = .hello
        #expect(throws: BusDecodingError.self) { try assembler.add(hello, from: [4]) }
        var tooMany = parts[0]
        tooMany.count = 1000
        #expect(throws: BusDecodingError.self) { try assembler.add(tooMany, from: [4]) }
        var tooBig = parts[0]
        tooBig.data = Data(count: Bus.maxPartBytes + 1).base64EncodedString()
        #expect(throws: BusDecodingError.self) { try assembler.add(tooBig, from: [4]) }
        var notBase64 = parts[0]
        notBase64.data = "%%%"
        #expect(throws: BusDecodingError.self) { try assembler.add(notBase64, from: [4]) }
        assembler.dropIdle(since: Date().addingTimeInterval(60))
        #expect(assembler.count == 0)
    }
}

import AgentOSWire
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func numbersStayNumbersAndBooleansStayBooleans() throws {
        let parsed = try JSONValue.parse(Data(#"[1, 0, true, false, 1.5, "x", null, {"a": [2]}]"#.utf8))
        #expect(parsed == [1, 0, true, false, 1.5, "x", nil, ["a": [2]]])
        #expect(parsed.encodedString() == #"[1,0,true,false,1.5,"x",null,{"a":[2]}]"#)
    }

    @Test func objectKeysAreKeptAsWrittenAndSorted() throws {
        let parsed = try JSONValue.parse(Data(#"{"snake_case": 1, "camelCase": 2}"#.utf8))
        #expect(parsed.encodedString() == #"{"camelCase":2,"snake_case":1}"#)
    }

    @Test func garbageIsAnError() {
        #expect(throws: (any Error).self) { try JSONValue.parse(Data("{nope".utf8)) }
        #expect(throws: (any Error).self) { try JSONValue.parse(Data()) }
    }
}

@Suite struct BusMessageTests {
    let tag = Array(Bus.protocolTag.utf8)

    @Test func roundTripsThroughFrames() throws {
        let outcome = JobOutcome(jobID: "j", attempt: 2, status: .timedOut, result: ["k": "v"], stdout: "o", error: "timed_out")
        let message = BusMessage(.result, outcome)
        let decoded = try BusMessage(frames: message.frames[...])
        #expect(decoded.command == .result)
        #expect(try decoded.decode(JobOutcome.self) == outcome)
    }

    @Test func wireFieldsAreSnakeCase() throws {
        let body = BusMessage(.job, JobAssignment(jobID: "j", attempt: 1, code: "c", inputs: [:], limits: JobLimits(timeoutSeconds: 5, maxOutputBytes: 10))).body
        let json = try JSONValue.parse(body)
        #expect(json["job_id"] == "j")
        #expect(json["limits"]?["timeout_s"] == 5)
        #expect(json["limits"]?["max_output_bytes"] == 10)
    }

    @Test(arguments: [
        [[UInt8]](),
        [Array("AOS/1".utf8)],
        [Array("AOS/2".utf8), Array("HELLO".utf8), Array("{}".utf8)],
        [Array("AOS/1".utf8), Array("EXPLODE".utf8), Array("{}".utf8)],
        [Array("AOS/1".utf8), Array("HELLO".utf8), Array("{}".utf8), Array("extra".utf8)],
    ])
    func malformedFramesAreRejected(frames: [[UInt8]]) {
        #expect(throws: BusDecodingError.self) { try BusMessage(frames: frames[...]) }
    }

    @Test func badBodyIsADecodingError() throws {
        let message = try BusMessage(frames: [tag, Array("HELLO".utf8), Array("[1]".utf8)][...])
        #expect(throws: BusDecodingError.self) { try message.decode(Hello.self) }
    }
}

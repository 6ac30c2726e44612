@testable import AgentOSHTTPServer
import NIOCore
import NIOHTTP1
import Testing

/// The connection guard's rules, without a socket or a clock: events in, actions out.
@Suite struct ConnectionGuardStateMachineTests {
    typealias Machine = ConnectionGuard.StateMachine

    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    static let badChunk = ErrorAnswer.malformedRequest(HTTPParserError.invalidChunkSize)!

    static func limits() -> HTTPServerLimits {
        var limits = HTTPServerLimits()
        limits.lingerTime = .seconds(5)
        limits.lingerBytes = 1000
        return limits
    }

    /// `seconds` after the connection opened.
    static func at(_ seconds: Double) -> NIODeadline {
        start + .nanoseconds(Int64(seconds * 1e9))
    }

    @Test func aMalformedHeadIsAnsweredByTheGuardThenItLingers() {
        var machine = Machine(limits: Self.limits())
        let head = machine.received(bytes: 10, now: Self.at(0))
        #expect(head == (true, .none))
        let failure = machine.decodingFailed(Self.badChunk, now: Self.at(0))
        #expect(failure == (false, .answer(Self.badChunk)), "no handler has this request: the guard answers")
        #expect(machine.dropsWrites && machine.dropsInput)
        #expect(machine.deadline == Self.at(5))
        // What the client still sends is dropped, up to the bytes allowed.
        let some = machine.received(bytes: 600, now: Self.at(1))
        #expect(some == (false, .none))
        let tooMany = machine.received(bytes: 600, now: Self.at(1))
        #expect(tooMany == (false, .close))
        #expect(machine.phase == .closed)
    }

    @Test func lingeringEndsWhenTheClientClosesOrTheTimeIsUp() {
        var closing = Machine(limits: Self.limits())
        _ = closing.decodingFailed(Self.badChunk, now: Self.at(0))
        let eof = closing.inputClosed()
        #expect(eof == .close)

        var waiting = Machine(limits: Self.limits())
        _ = waiting.decodingFailed(Self.badChunk, now: Self.at(0))
        let early = waiting.deadlinePassed(now: Self.at(4.9))
        let late = waiting.deadlinePassed(now: Self.at(5))
        #expect(early == .none && late == .close)
    }

    @Test func aMalformedBodyGoesToItsHandlerAndTheConnectionEndsAfterTheAnswer() {
        var machine = Machine(limits: Self.limits())
        machine.requestHeadReceived()
        let failure = machine.decodingFailed(Self.badChunk, now: Self.at(0))
        #expect(failure == (true, .none), "the handler reading the body answers it")
        #expect(machine.dropsInput && !machine.dropsWrites)
        let closes = machine.responseStarting()
        #expect(closes, "the answer says Connection: close")
        let ended = machine.responseEnded(now: Self.at(1))
        #expect(ended == .linger)
        #expect(machine.deadline == Self.at(6))
        #expect(machine.dropsWrites, "nothing more is written after the last answer")
    }

    @Test func aMalformedBodyWhoseResponseIsUnderwayIsNotPassedOn() {
        var machine = Machine(limits: Self.limits())
        machine.requestHeadReceived()
        _ = machine.responseStarting()
        let failure = machine.decodingFailed(Self.badChunk, now: Self.at(0))
        #expect(failure == (false, .none))
        let ended = machine.responseEnded(now: Self.at(1))
        #expect(ended == .linger)
    }

    @Test func aMalformedRequestBehindOneBeingAnsweredIsAnsweredAfterIt() {
        var machine = Machine(limits: Self.limits())
        machine.requestHeadReceived()
        machine.requestEnded()
        let failure = machine.decodingFailed(Self.badChunk, now: Self.at(0))
        #expect(failure == (false, .none))
        #expect(!machine.dropsWrites, "the response underway goes out")
        let closes = machine.responseStarting()
        #expect(closes, "and says Connection: close")
        let ended = machine.responseEnded(now: Self.at(1))
        #expect(ended == .answer(Self.badChunk))
    }

    @Test func wellFormedRequestsLeaveTheConnectionOpen() {
        var machine = Machine(limits: Self.limits())
        for second in 0..<3 {
            let bytes = machine.received(bytes: 100, now: Self.at(Double(second)))
            #expect(bytes == (true, .none))
            machine.requestHeadReceived()
            machine.requestEnded()
            let closes = machine.responseStarting()
            let ended = machine.responseEnded(now: Self.at(Double(second)))
            #expect(!closes && ended == .none)
        }
        #expect(machine.phase == .open)
    }

    @Test func headsOverTheLimitsAre431AndOtherFramingErrors400() {
        #expect(ErrorAnswer.malformedRequest(HTTPParserError.headerOverflow)?.status == .requestHeaderFieldsTooLarge)
        #expect(ErrorAnswer.malformedRequest(HTTPParserError.headerOverflow)?.code == "headers_too_large")
        #expect(Self.badChunk.status == .badRequest && Self.badChunk.code == "invalid_request")
        #expect(ErrorAnswer.malformedRequest(CancellationError()) == nil, "not about the request's bytes")
        let bytes = String(buffer: ErrorAnswer(status: .serviceUnavailable, code: "busy", message: "m", retryAfterSeconds: 2).bytes())
        #expect(bytes.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(bytes.contains("\r\nConnection: close\r\n") && bytes.contains("\r\nRetry-After: 2\r\n"))
        #expect(bytes.hasSuffix("\r\n\r\n{\"error\":{\"code\":\"busy\",\"message\":\"m\"}}"))
    }
}

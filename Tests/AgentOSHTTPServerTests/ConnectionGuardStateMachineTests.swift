@testable import AgentOSHTTPServer
import NIOCore
import NIOHTTP1
import Testing

/// The connection guard's rules, without a socket or a clock: events in, actions out.
@Suite struct ConnectionGuardStateMachineTests {
    typealias Machine = ConnectionGuard.StateMachine

    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    static let badChunk = ErrorAnswer.forReadError(HTTPParserError.invalidChunkSize)!

    static func limits() -> HTTPServerLimits {
        var limits = HTTPServerLimits(descriptorLimit: 1024)
        limits.headerTimeout = .seconds(10)
        limits.idleTimeout = .seconds(60)
        limits.lingerTime = .seconds(5)
        limits.lingerBytes = 1000
        limits.refusalLingerTime = .seconds(1)
        return limits
    }

    /// `seconds` after the connection opened.
    static func at(_ seconds: Double) -> NIODeadline {
        start + .nanoseconds(Int64(seconds * 1e9))
    }

    @Test func aMalformedHeadIsAnsweredByTheGuardThenItLingers() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        let head = machine.received(bytes: 10, now: Self.at(0))
        #expect(machine.deadline == Self.at(10), "the head is due 10 s after the connection opened")
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
        var closing = Machine(limits: Self.limits(), now: Self.at(0))
        _ = closing.decodingFailed(Self.badChunk, now: Self.at(0))
        let eof = closing.inputClosed()
        #expect(eof == .close)

        var waiting = Machine(limits: Self.limits(), now: Self.at(0))
        _ = waiting.decodingFailed(Self.badChunk, now: Self.at(0))
        let early = waiting.deadlinePassed(now: Self.at(4.9))
        let late = waiting.deadlinePassed(now: Self.at(5))
        #expect(early == .none && late == .close)
    }

    @Test func aMalformedBodyGoesToItsHandlerAndTheConnectionEndsAfterTheAnswer() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
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
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
        _ = machine.responseStarting()
        let failure = machine.decodingFailed(Self.badChunk, now: Self.at(0))
        #expect(failure == (false, .none))
        let ended = machine.responseEnded(now: Self.at(1))
        #expect(ended == .linger)
    }

    @Test func aMalformedRequestBehindOneBeingAnsweredIsAnsweredAfterIt() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
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
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        for second in 0..<3 {
            let bytes = machine.received(bytes: 100, now: Self.at(Double(second)))
            #expect(bytes == (true, .none))
            machine.requestHeadReceived(now: Self.at(0))
            machine.requestEnded()
            let closes = machine.responseStarting()
            let ended = machine.responseEnded(now: Self.at(Double(second)))
            #expect(!closes && ended == .none)
        }
        #expect(machine.phase == .open)
    }

    @Test func anAnswerBeforeTheBodyHasArrivedEndsTheConnectionAndTheRestIsDropped() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
        let closes = machine.responseStarting()
        #expect(closes, "a 413 written before the body arrived says Connection: close")
        let ended = machine.responseEnded(now: Self.at(1))
        #expect(ended == .linger)
        let rest = machine.received(bytes: 900, now: Self.at(2))
        #expect(rest == (false, .none), "the rest of the body is dropped, not taken for a new request")
        let tooMuch = machine.received(bytes: 200, now: Self.at(2))
        #expect(tooMuch == (false, .close), "up to the bytes allowed")
    }

    @Test func anAnswerAfterTheWholeBodyKeepsTheConnection() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
        machine.requestEnded()
        let closes = machine.responseStarting()
        let ended = machine.responseEnded(now: Self.at(1))
        #expect(!closes && ended == .none && machine.phase == .open)
    }

    // MARK: Deadlines

    @Test func aConnectionThatSendsNothingClosesSilentlyAtTheHeaderTimeout() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        #expect(machine.deadline == Self.at(10))
        let early = machine.deadlinePassed(now: Self.at(9.9))
        #expect(early == .none)
        let due = machine.deadlinePassed(now: Self.at(10))
        #expect(due == .close, "nothing of a request arrived: no answer")
    }

    @Test func aHeadStillIncompleteAtTheHeaderTimeoutIs408WhateverArrivedMeanwhile() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        for tenth in 0..<99 {
            _ = machine.received(bytes: 1, now: Self.at(Double(tenth) / 10))
        }
        #expect(machine.deadline == Self.at(10), "bytes trickling in do not move it")
        let due = machine.deadlinePassed(now: Self.at(10))
        guard case .answer(let answer, failingBody: false) = due else {
            Issue.record("expected a 408, got \(due)")
            return
        }
        #expect(answer.status == .requestTimeout && answer.code == "request_timeout")
        #expect(answer.message.contains("10 s"))
        #expect(machine.deadline == Self.at(15), "then it lingers")
    }

    @Test func betweenRequestsTheIdleTimeoutRunsAndALaterHeadHasItsOwnHeaderTimeout() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        _ = machine.received(bytes: 100, now: Self.at(1))
        machine.requestHeadReceived(now: Self.at(1))
        machine.requestEnded()
        #expect(machine.deadline == nil, "the request is being handled: no deadline")
        _ = machine.responseStarting()
        #expect(machine.deadline == nil, "nor while its response is written")
        _ = machine.responseEnded(now: Self.at(2))
        #expect(machine.deadline == Self.at(62), "idle from the end of the response")
        _ = machine.received(bytes: 5, now: Self.at(30))
        #expect(machine.deadline == Self.at(40), "the next head is due 10 s after its first byte")
    }

    @Test func aLongResponseIsNeverCut() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
        machine.requestEnded()
        _ = machine.responseStarting()
        // An hour of events, nothing from the client.
        let late = machine.deadlinePassed(now: Self.at(3600))
        #expect(late == .none && machine.deadline == nil && !machine.dropsWrites)
    }

    @Test func aBodyThatStopsArrivingIs408AndItsHandlerGetsTheError() {
        var machine = Machine(limits: Self.limits(), now: Self.at(0))
        machine.requestHeadReceived(now: Self.at(0))
        _ = machine.received(bytes: 1000, now: Self.at(5))
        #expect(machine.deadline == Self.at(65), "idle timeout from the last bytes")
        let due = machine.deadlinePassed(now: Self.at(65))
        guard case .answer(let answer, failingBody: true) = due else {
            Issue.record("expected a 408 failing the body, got \(due)")
            return
        }
        #expect(answer.status == .requestTimeout)
        #expect(machine.dropsWrites, "the handler's own answer is dropped")
    }

    @Test func aRefusedConnectionIsAnsweredAndLingersBriefly() {
        let busy = ErrorAnswer(status: .serviceUnavailable, code: "too_many_connections", message: "m", retryAfterSeconds: 1)
        var refused = Machine(limits: Self.limits(), now: Self.at(0))
        let answer = refused.refuse(busy, now: Self.at(0))
        #expect(answer == .answer(busy))
        #expect(refused.deadline == Self.at(1))
        let input = refused.received(bytes: 100, now: Self.at(0.5))
        #expect(input == (false, .none), "its request is dropped, not decoded")

        var dropped = Machine(limits: Self.limits(), now: Self.at(0))
        let close = dropped.refuse(nil, now: Self.at(0))
        #expect(close == .close)
    }

    @Test func headsOverTheLimitsAre431AndOtherFramingErrors400() {
        #expect(ErrorAnswer.forReadError(HTTPParserError.headerOverflow)?.status == .requestHeaderFieldsTooLarge)
        #expect(ErrorAnswer.forReadError(HTTPParserError.headerOverflow)?.code == "headers_too_large")
        #expect(Self.badChunk.status == .badRequest && Self.badChunk.code == "invalid_request")
        #expect(ErrorAnswer.forReadError(CancellationError()) == nil, "not about the request's bytes")
        let bytes = String(buffer: ErrorAnswer(status: .serviceUnavailable, code: "busy", message: "m", retryAfterSeconds: 2).bytes())
        #expect(bytes.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(bytes.contains("\r\nConnection: close\r\n") && bytes.contains("\r\nRetry-After: 2\r\n"))
        #expect(bytes.hasSuffix("\r\n\r\n{\"error\":{\"code\":\"busy\",\"message\":\"m\"}}"))
    }
}

/// Who is served, refused or dropped, and the defaults drawn from the descriptor limit.
@Suite struct ConnectionLimiterTests {
    @Test func theCapsCountByAddressAndInAll() {
        var limits = HTTPServerLimits(descriptorLimit: 1024)
        limits.maxConnections = 3
        limits.maxConnectionsPerAddress = 2
        limits.maxOpenConnections = 7
        let limiter = ConnectionLimiter(limits: limits)
        #expect(limiter.admit(address: "a") == .serve)
        #expect(limiter.admit(address: "a") == .serve)
        guard case .refuse(let perAddress) = limiter.admit(address: "a") else {
            Issue.record("a third from one address is refused")
            return
        }
        #expect(perAddress.status == .serviceUnavailable && perAddress.code == "too_many_connections")
        #expect(perAddress.retryAfterSeconds != nil && perAddress.message.contains("this address"))
        #expect(limiter.admit(address: "b") == .serve)
        guard case .refuse(let full) = limiter.admit(address: "c") else {
            Issue.record("past 3 in all, refused")
            return
        }
        #expect(full.message.contains("this server"))
        // (7 - 3) / 2 = 2 refusals at once; the next is dropped.
        #expect(limiter.admit(address: "d") == .drop)
        limiter.release(address: "c", .refuse(full))
        #expect(limiter.admit(address: "d") != .drop)
        limiter.release(address: "a", .serve)
        #expect(limiter.admit(address: "a") == .serve, "a closed connection frees its place")
    }

    @Test func theDefaultsStayBelowTheDescriptorLimit() {
        let small = HTTPServerLimits(descriptorLimit: 1024)
        #expect(small.maxOpenConnections == 768 && small.maxConnections == 576)
        let large = HTTPServerLimits(descriptorLimit: 20_000)
        #expect(large.maxOpenConnections == 19_744 && large.maxConnections == 14_808)
        #expect(HTTPServerLimits().maxOpenConnections < HTTPServerLimits.descriptorLimit())
    }
}

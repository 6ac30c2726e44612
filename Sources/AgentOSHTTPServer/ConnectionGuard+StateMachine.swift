import NIOCore

extension ConnectionGuard {
    /// The rules of one connection, without its sockets or clock: `ConnectionGuard` tells it
    /// what happens on the connection (bytes in, request heads and ends, responses, decoding
    /// errors, the time) and carries out the action it returns.
    ///
    /// Deadlines: while the connection waits for a request, the next one's head must be
    /// complete `headerTimeout` after the connection opened, or after the head's first byte,
    /// and a connection idle between requests closes after `idleTimeout`. While a request body
    /// arrives, a gap of `idleTimeout` is answered `408`. While a request is handled or its
    /// response written there is no deadline: long polls and event streams are never cut.
    struct StateMachine {
        /// What the guard does next.
        enum Action: Equatable {
            case none
            /// Write this answer, stop sending, and linger. With `failingBody`, the handler
            /// reading the request body gets an error instead of the rest of it.
            case answer(ErrorAnswer, failingBody: Bool = false)
            /// Stop sending (the last response is out) and linger.
            case linger
            /// Close the connection now.
            case close
        }

        /// Where the connection is.
        enum Phase: Equatable {
            /// Bytes go to the HTTP decoder (unless it has failed).
            case open
            /// This side has stopped sending; what the client still sends is read and dropped
            /// until it closes, the time is up or the bytes are spent.
            case lingering(until: NIODeadline, bytesLeft: Int)
            case closed
        }

        let limits: HTTPServerLimits
        private(set) var phase = Phase.open
        /// Requests whose head has arrived and whose response has not ended.
        private var requestsOpen = 0
        /// The latest request's body has not ended.
        private var bodyOpen = false
        /// A response is being written.
        private var responseOpen = false
        /// The connection ends after the response being written, or the next one.
        private var closeAfterResponse = false
        /// The HTTP decoder failed: it can make sense of nothing more on this connection.
        private var decoderFailed = false
        /// An answer for a malformed request that arrived while an earlier one was answered.
        private var pendingAnswer: ErrorAnswer?
        /// No request yet: the first head's time counts from the connection's opening.
        private var firstRequest = true
        /// Since when the connection has waited for a request (opened, or last response out).
        private var waitingSince: NIODeadline
        /// When the head being received started (nil: no byte of it yet).
        private var headStarted: NIODeadline?
        /// When bytes last arrived.
        private var lastInput: NIODeadline

        /// A connection that opened at `now`.
        init(limits: HTTPServerLimits, now: NIODeadline) {
            self.limits = limits
            waitingSince = now
            lastInput = now
        }

        /// When `deadlinePassed` must be called, if ever.
        var deadline: NIODeadline? {
            switch phase {
            case .lingering(let until, _):
                return until
            case .closed:
                return nil
            case .open:
                // A failed decoder waits for the answer underway; the linger bounds what follows.
                if decoderFailed || responseOpen { return nil }
                if requestsOpen > 0 { return bodyOpen ? lastInput + TimeAmount(limits.idleTimeout) : nil }
                if let headStarted { return headStarted + TimeAmount(limits.headerTimeout) }
                return waitingSince + TimeAmount(firstRequest ? limits.headerTimeout : limits.idleTimeout)
            }
        }

        /// The connection's writes from Hummingbird are dropped: the guard has answered or
        /// the last response is out.
        var dropsWrites: Bool { phase != .open }

        /// What arrives is dropped rather than decoded.
        var dropsInput: Bool { phase != .open || decoderFailed }

        /// The connection is refused (over a cap): answer and linger briefly, or, with no
        /// answer, close at once.
        mutating func refuse(_ answer: ErrorAnswer?, now: NIODeadline) -> Action {
            guard let answer else {
                phase = .closed
                return .close
            }
            phase = .lingering(until: now + TimeAmount(limits.refusalLingerTime), bytesLeft: limits.lingerBytes)
            return .answer(answer)
        }

        /// Bytes arrived. Whether they go on to the decoder, and what to do.
        mutating func received(bytes: Int, now: NIODeadline) -> (forward: Bool, action: Action) {
            switch phase {
            case .open:
                lastInput = now
                if requestsOpen == 0, headStarted == nil { headStarted = firstRequest ? waitingSince : now }
                return (!decoderFailed, .none)
            case .lingering(let until, let bytesLeft):
                guard bytes < bytesLeft else {
                    phase = .closed
                    return (false, .close)
                }
                phase = .lingering(until: until, bytesLeft: bytesLeft - bytes)
                return (false, .none)
            case .closed:
                return (false, .none)
            }
        }

        mutating func requestHeadReceived(now: NIODeadline) {
            requestsOpen += 1
            bodyOpen = true
            firstRequest = false
            headStarted = nil
            lastInput = now
        }

        mutating func requestEnded() {
            bodyOpen = false
        }

        /// A response head is about to be written; true when it must say `Connection: close`.
        /// An answer to a request whose body is still arriving (`413` before reading it) ends
        /// the connection: what is left of the body is dropped while lingering, within bounds,
        /// rather than read to its end however long it is.
        mutating func responseStarting() -> Bool {
            responseOpen = true
            if requestsOpen == 1, bodyOpen { closeAfterResponse = true }
            return closeAfterResponse && requestsOpen <= 1
        }

        mutating func responseEnded(now: NIODeadline) -> Action {
            responseOpen = false
            requestsOpen = max(0, requestsOpen - 1)
            guard requestsOpen == 0, phase == .open else { return .none }
            waitingSince = now
            if let answer = pendingAnswer {
                pendingAnswer = nil
                startLingering(now: now)
                return .answer(answer)
            }
            if closeAfterResponse {
                startLingering(now: now)
                return .linger
            }
            return .none
        }

        /// The HTTP decoder failed with an error that `answer` answers. True when the error
        /// goes on to the request's handler, which is reading that request's body and answers
        /// it itself; otherwise the guard answers (at once, or after the responses underway).
        mutating func decodingFailed(_ answer: ErrorAnswer, now: NIODeadline) -> (forward: Bool, action: Action) {
            guard phase == .open, !decoderFailed else { return (false, .none) }
            decoderFailed = true
            closeAfterResponse = true
            if requestsOpen > 0, bodyOpen {
                // The handler may be reading this body, unless it is already answering it.
                return (!(requestsOpen == 1 && responseOpen), .none)
            }
            if requestsOpen > 0 {
                pendingAnswer = answer
                return (false, .none)
            }
            startLingering(now: now)
            return (false, .answer(answer))
        }

        /// The client will send nothing more.
        mutating func inputClosed() -> Action {
            guard case .lingering = phase else { return .none }
            phase = .closed
            return .close
        }

        mutating func deadlinePassed(now: NIODeadline) -> Action {
            guard let deadline, now >= deadline else { return .none }
            if case .lingering = phase {
                phase = .closed
                return .close
            }
            if requestsOpen > 0 {
                // A body stalled before its handler answered: the handler must not take what
                // arrived for the whole body.
                startLingering(now: now)
                return .answer(Self.timedOut("the request body stopped arriving for \(Self.seconds(limits.idleTimeout))"), failingBody: true)
            }
            if headStarted != nil {
                startLingering(now: now)
                return .answer(Self.timedOut("the request head did not arrive within \(Self.seconds(limits.headerTimeout))"))
            }
            // Nothing of a request arrived: there is nobody to answer.
            phase = .closed
            return .close
        }

        mutating func closed() {
            phase = .closed
        }

        private mutating func startLingering(now: NIODeadline) {
            phase = .lingering(until: now + TimeAmount(limits.lingerTime), bytesLeft: limits.lingerBytes)
        }

        static func timedOut(_ message: String) -> ErrorAnswer {
            ErrorAnswer(status: .requestTimeout, code: "request_timeout", message: message)
        }

        static func seconds(_ duration: Duration) -> String {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
        }
    }
}

import NIOCore

extension ConnectionGuard {
    /// The rules of one connection, without its sockets or clock: `ConnectionGuard` tells it
    /// what happens on the connection (bytes in, request heads and ends, responses, decoding
    /// errors, the time) and carries out the action it returns.
    struct StateMachine {
        /// What the guard does next.
        enum Action: Equatable {
            case none
            /// Write this answer, stop sending, and linger.
            case answer(ErrorAnswer)
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

        init(limits: HTTPServerLimits) {
            self.limits = limits
        }

        /// When `deadlinePassed` must be called, if ever.
        var deadline: NIODeadline? {
            if case .lingering(let until, _) = phase { return until }
            return nil
        }

        /// The connection's writes from Hummingbird are dropped: the guard has answered or
        /// the last response is out.
        var dropsWrites: Bool { phase != .open }

        /// What arrives is dropped rather than decoded.
        var dropsInput: Bool { phase != .open || decoderFailed }

        /// Bytes arrived. Whether they go on to the decoder, and what to do.
        mutating func received(bytes: Int, now: NIODeadline) -> (forward: Bool, action: Action) {
            switch phase {
            case .open:
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

        mutating func requestHeadReceived() {
            requestsOpen += 1
            bodyOpen = true
        }

        mutating func requestEnded() {
            bodyOpen = false
        }

        /// A response head is about to be written; true when it must say `Connection: close`.
        mutating func responseStarting() -> Bool {
            responseOpen = true
            return closeAfterResponse && requestsOpen <= 1
        }

        mutating func responseEnded(now: NIODeadline) -> Action {
            responseOpen = false
            requestsOpen = max(0, requestsOpen - 1)
            guard requestsOpen == 0, phase == .open else { return .none }
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
            guard case .lingering(let until, _) = phase, now >= until else { return .none }
            phase = .closed
            return .close
        }

        mutating func closed() {
            phase = .closed
        }

        private mutating func startLingering(now: NIODeadline) {
            phase = .lingering(until: now + TimeAmount(limits.lingerTime), bytesLeft: limits.lingerBytes)
        }
    }
}

import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Guards one HTTP/1.1 connection from below Hummingbird. It sits in the channel pipeline
/// twice: `bytes` first, where the socket's bytes come in (it can drop them and write answers
/// of its own), and `parts` after the HTTP decoder, where it sees request heads and ends,
/// decoding errors and the responses Hummingbird writes. Its rules live in `StateMachine`.
///
/// A request that is not HTTP gets the contract's JSON error: when the decoder fails on a head,
/// the guard answers `400` (`431` for a head over the limits) itself; when it fails in a body,
/// the error goes on to the handler reading that body, which answers it. Either way the
/// connection then ends with a lingering close: this side stops sending, and what the client
/// still sends is read and dropped for a while, so that the client reads the answer.
///
/// A response written before its request's body has all arrived (`413` for a body too large)
/// ends the connection the same way: the client, which may read nothing until it has sent
/// everything, gets the answer once the rest of its body has been dropped.
///
/// It also keeps the connection's deadlines (a head within `headerTimeout`, `idleTimeout`
/// between requests and within a body; none while a request is handled), and refuses the
/// connection at once when `ConnectionLimiter` did not admit it.
///
/// Lives on the channel's event loop, as do its handlers.
final class ConnectionGuard {
    private var machine: StateMachine
    private let admission: ConnectionLimiter.Admission
    private var started = false
    private var bytesContext: ChannelHandlerContext?
    private var partsContext: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(limits: HTTPServerLimits, admission: ConnectionLimiter.Admission) {
        machine = StateMachine(limits: limits, now: .now())
        self.admission = admission
    }

    /// The handler for the front of the pipeline (bytes).
    var bytes: BytesHandler { BytesHandler(connection: self) }
    /// The handler to put after the HTTP codec (request and response parts).
    var parts: PartsHandler { PartsHandler(connection: self) }

    /// The connection is open: refuse it, or start its clock.
    private func start() {
        guard !started else { return }
        started = true
        switch admission {
        case .serve: updateTimer()
        case .refuse(let answer): perform(machine.refuse(answer, now: .now()))
        case .drop: perform(machine.refuse(nil, now: .now()))
        }
    }

    private func perform(_ action: StateMachine.Action) {
        switch action {
        case .none:
            break
        case .answer(let answer, let failingBody):
            guard let context = bytesContext else { return }
            if failingBody { partsContext?.fireErrorCaught(answer) }
            context.writeAndFlush(NIOAny(answer.bytes()), promise: nil)
            stopSendingAndLinger(context)
        case .linger:
            guard let context = bytesContext else { return }
            context.flush()
            stopSendingAndLinger(context)
        case .close:
            bytesContext?.close(promise: nil)
        }
        updateTimer()
    }

    /// Shuts the sending side (after what is queued) and reads on, whatever the layers above
    /// want: the bytes are dropped here.
    private func stopSendingAndLinger(_ context: ChannelHandlerContext) {
        context.close(mode: .output, promise: nil)
        context.read()
    }

    /// Keeps one scheduled task at or before the machine's deadline. A deadline that moved
    /// later (bytes keep arriving) leaves the task as it is: when it fires early, the machine
    /// says so and the task is scheduled again, so a busy upload does not reschedule per read.
    private func updateTimer() {
        guard let deadline = machine.deadline else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        guard let context = bytesContext else { return }
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            perform(machine.deadlinePassed(now: .now()))
        }
    }

    fileprivate func closed() {
        machine.closed()
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    /// The front of the pipeline: counts, forwards or drops the socket's bytes, and drops
    /// Hummingbird's writes once the guard has taken the connection over.
    final class BytesHandler: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let connection: ConnectionGuard

        fileprivate init(connection: ConnectionGuard) {
            self.connection = connection
        }

        func handlerAdded(context: ChannelHandlerContext) {
            connection.bytesContext = context
            if context.channel.isActive { connection.start() }
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            connection.closed()
            connection.bytesContext = nil
        }

        func channelActive(context: ChannelHandlerContext) {
            connection.start()
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let count = unwrapInboundIn(data).readableBytes
            let (forward, action) = connection.machine.received(bytes: count, now: .now())
            if forward { context.fireChannelRead(data) }
            connection.perform(action)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            // While the guard drops what arrives, it reads on by itself: the layers above may
            // have stopped asking for more.
            if connection.machine.dropsInput { context.read() }
            context.fireChannelReadComplete()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event {
                connection.perform(connection.machine.inputClosed())
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            connection.closed()
            context.fireChannelInactive()
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard !connection.machine.dropsWrites else {
                promise?.succeed(())
                return
            }
            context.write(data, promise: promise)
        }
    }

    /// After the HTTP codec: tells the guard about request heads and ends, answers decoding
    /// errors (or passes them on to the handler reading the body), and marks a response that
    /// ends the connection with `Connection: close`.
    final class PartsHandler: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart

        private let connection: ConnectionGuard

        fileprivate init(connection: ConnectionGuard) {
            self.connection = connection
        }

        func handlerAdded(context: ChannelHandlerContext) {
            connection.partsContext = context
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            connection.partsContext = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head: connection.machine.requestHeadReceived(now: .now())
            case .body: break
            case .end: connection.machine.requestEnded()
            }
            connection.updateTimer()
            context.fireChannelRead(data)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            guard let answer = ErrorAnswer.forReadError(error) else {
                context.fireErrorCaught(error)
                return
            }
            let (forward, action) = connection.machine.decodingFailed(answer, now: .now())
            if forward { context.fireErrorCaught(error) }
            connection.perform(action)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            switch unwrapOutboundIn(data) {
            case .head(var response):
                if connection.machine.responseStarting() {
                    response.headerFields[.connection] = "close"
                }
                connection.updateTimer()
                context.write(wrapOutboundOut(.head(response)), promise: promise)
            case .body:
                context.write(data, promise: promise)
            case .end:
                context.write(data, promise: promise)
                connection.perform(connection.machine.responseEnded(now: .now()))
            }
        }
    }
}

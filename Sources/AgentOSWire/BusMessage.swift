import Foundation

/// The job bus protocol: frame layout, commands and their JSON bodies (see docs/PROTOCOL.md).
public enum Bus {
    /// First frame of every bus message; changes only with an incompatible protocol revision.
    public static let protocolTag = "AOS/1"
    /// The protocol revision a `HELLO` announces.
    public static let protocolVersion = 1
    /// Largest message: what a worker accepts (ZMQ_MAXMSGSIZE), and what a worker's message
    /// may be once its `PART`s are put together.
    public static let maxMessageBytes = 16 << 20
    /// Largest single message the server accepts (ZMQ_MAXMSGSIZE on its socket): a HELLO
    /// with a full `running` list (about 64 bytes an entry) and a long credential, or a
    /// `PART`. libzmq buffers a message whole before the server sees it, from any peer, so
    /// this is what a stranger can make the server hold per connection.
    public static let maxInboundMessageBytes = 384 << 10
    /// Largest body a worker sends whole; a larger one goes in `PART`s of this many bytes.
    public static let maxPartBytes = 256 << 10
    /// Largest `OUTPUT` body a worker sends (it is never sent in parts).
    public static let maxOutputBodyBytes = 256 << 10
    /// Most entries in a HELLO's `running` list.
    public static let maxHelloRunning = 4096
    /// Most bytes of a file one `FETCH` may ask for, and so one `FILE` carry (base64 makes
    /// that about 342 KiB of body, well within a worker's `maxMessageBytes`).
    public static let maxFileChunkBytes = 256 << 10
}

/// The commands of the job bus.
public enum BusCommand: String, Codable, Sendable, CaseIterable {
    /// worker → server: credentials and capabilities.
    case hello = "HELLO"
    /// server → worker: accepted; carries heartbeat timing.
    case welcome = "WELCOME"
    /// server → worker: refused or not registered.
    case reject = "REJECT"
    /// both ways: liveness.
    case heartbeat = "HEARTBEAT"
    /// server → worker: run this job (only ever into a free slot).
    case job = "JOB"
    /// worker → server: the job began executing.
    case started = "STARTED"
    /// worker → server: the job's outcome.
    case result = "RESULT"
    /// server → worker: stop this job.
    case cancel = "CANCEL"
    /// worker → server: hand a job back unrun (shutting down).
    case release = "RELEASE"
    /// worker → server: send no more jobs.
    case drain = "DRAIN"
    /// worker → server: clean disconnect.
    case bye = "BYE"
    /// worker → server: a piece of a message too large to send whole.
    case part = "PART"
    /// worker → server: send me bytes of one of a running job's files.
    case fetch = "FETCH"
    /// server → worker: the bytes a `FETCH` asked for, or why not.
    case file = "FILE"
    /// worker → server: output a running job wrote since the last one (optional; `RESULT`
    /// stays the whole, authoritative output).
    case output = "OUTPUT"
}

/// A bus message that could not be understood.
public struct BusDecodingError: Error, CustomStringConvertible, Sendable {
    /// What was wrong with the frames.
    public let description: String

    /// An error saying what was wrong.
    public init(description: String) {
        self.description = description
    }
}

/// One decoded bus message: its command and its raw JSON body.
public struct BusMessage: Sendable {
    /// The command.
    public let command: BusCommand
    /// The JSON body, decoded lazily by `decode(_:)`.
    public let body: Data

    /// Builds a message from a command and an encodable body.
    public init<Body: Encodable>(_ command: BusCommand, _ body: Body) {
        self.command = command
        self.body = (try? Bus.encoder.encode(body)) ?? Data("{}".utf8)
    }

    /// A message with a body already encoded.
    public init(command: BusCommand, body: Data) {
        self.command = command
        self.body = body
    }

    /// Parses the frames after any routing envelope: `[tag, command, body]`.
    public init(frames: ArraySlice<[UInt8]>) throws {
        guard frames.count == 3 else {
            throw BusDecodingError(description: "expected 3 frames, got \(frames.count)")
        }
        let tag = frames[frames.startIndex]
        guard tag.elementsEqual(Bus.protocolTag.utf8) else {
            throw BusDecodingError(description: "unknown protocol tag")
        }
        guard let command = BusCommand(rawValue: String(decoding: frames[frames.startIndex + 1], as: UTF8.self)) else {
            throw BusDecodingError(description: "unknown command")
        }
        self.command = command
        self.body = Data(frames[frames.startIndex + 2])
    }

    /// The frames to send: `[tag, command, body]`.
    public var frames: [[UInt8]] {
        [Array(Bus.protocolTag.utf8), Array(command.rawValue.utf8), Array(body)]
    }

    /// The message as a worker sends it: whole, or, when its body is larger than
    /// `Bus.maxPartBytes`, as `PART`s in order (PROTOCOL §3.12).
    /// A `HELLO` always goes whole.
    public func parts(messageID: String = UUID().uuidString.lowercased()) -> [BusMessage] {
        guard body.count > Bus.maxPartBytes, command != .hello else { return [self] }
        let count = (body.count + Bus.maxPartBytes - 1) / Bus.maxPartBytes
        return (0..<count).map { index in
            let slice = body[(body.startIndex + index * Bus.maxPartBytes)..<(body.startIndex + min(body.count, (index + 1) * Bus.maxPartBytes))]
            return BusMessage(.part, MessagePart(messageID: messageID, command: command, index: index, count: count, data: Data(slice).base64EncodedString()))
        }
    }

    /// Decodes the body as `Body`.
    public func decode<Body: Decodable>(_ type: Body.Type) throws -> Body {
        do {
            return try Bus.decoder.decode(Body.self, from: body)
        } catch {
            throw BusDecodingError(description: "bad \(command.rawValue) body: \(error)")
        }
    }
}

extension Bus {
    /// One decoder for every body (it is stateless between calls and safe to share).
    static let decoder = JSONDecoder()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}

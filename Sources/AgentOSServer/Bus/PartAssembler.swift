import AgentOSWire
import Foundation

/// Puts together the `PART`s of workers' large messages (PROTOCOL §3.12), one message at a
/// time per connection, on the bus thread. The server takes no single message over
/// `Bus.maxInboundMessageBytes`, so a stranger can make it hold little; a welcomed worker's
/// large `RESULT` arrives in pieces, each checked as it comes, up to `Bus.maxMessageBytes`.
struct PartAssembler {
    private struct Assembly {
        let messageID: String
        let command: BusCommand
        let count: Int
        var received = 0
        var body = Data()
        let startedAt: Date
    }

    /// Messages being put together, by connection.
    private var assemblies: [[UInt8]: Assembly] = [:]

    /// Connections with a message half put together.
    var count: Int { assemblies.count }

    /// Adds `part` from the connection `identity`: the whole message once its last piece is
    /// in, else nil. A piece out of order, or one that breaks a limit, drops what was put
    /// together and throws; a first piece starts a new message in place of any unfinished one.
    mutating func add(_ part: MessagePart, from identity: [UInt8], now: Date = Date()) throws(BusDecodingError) -> BusMessage? {
        guard part.command != .hello, part.command != .part else {
            throw BusDecodingError(description: "a \(part.command.rawValue) is never sent in parts")
        }
        let most = (Bus.maxMessageBytes + Bus.maxPartBytes - 1) / Bus.maxPartBytes
        guard (2...most).contains(part.count) else {
            throw BusDecodingError(description: "count must be 2-\(most)")
        }
        guard let piece = Data(base64Encoded: part.data), !piece.isEmpty, piece.count <= Bus.maxPartBytes else {
            assemblies[identity] = nil
            throw BusDecodingError(description: "data must be base64 of 1-\(Bus.maxPartBytes) bytes")
        }
        if part.index == 0 {
            assemblies[identity] = Assembly(messageID: part.messageID, command: part.command, count: part.count, startedAt: now)
        }
        guard var assembly = assemblies.removeValue(forKey: identity), assembly.messageID == part.messageID,
            assembly.command == part.command, assembly.count == part.count, assembly.received == part.index
        else {
            throw BusDecodingError(description: "part \(part.index) of \(part.messageID) is out of order or of another message")
        }
        guard assembly.body.count + piece.count <= Bus.maxMessageBytes else {
            throw BusDecodingError(description: "the message is larger than \(Bus.maxMessageBytes) bytes")
        }
        assembly.body.append(piece)
        assembly.received += 1
        guard assembly.received == assembly.count else {
            assemblies[identity] = assembly
            return nil
        }
        return BusMessage(command: assembly.command, body: assembly.body)
    }

    /// Forgets messages whose first piece came before `cutoff` (their sender went away).
    mutating func dropStarted(before cutoff: Date) {
        assemblies = assemblies.filter { $0.value.startedAt >= cutoff }
    }
}

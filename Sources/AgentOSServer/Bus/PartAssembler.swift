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
        var lastPieceAt: Date
    }

    /// Bytes held in all messages being put together at most: past it a new message is
    /// refused until others finish or are forgotten.
    static let maxHeldBytes = 256 << 20

    /// Messages being put together, by connection.
    private var assemblies: [[UInt8]: Assembly] = [:]
    /// Bytes they hold.
    private var heldBytes = 0

    /// Connections with a message half put together.
    var count: Int { assemblies.count }

    /// Adds `part` from the connection `identity`: the whole message once its last piece is
    /// in, else nil. A piece out of order, or one that breaks a limit, drops what was put
    /// together and throws; a first piece starts a new message in place of any unfinished one.
    /// All unfinished messages together hold at most `maxHeldBytes`.
    mutating func add(_ part: MessagePart, from identity: [UInt8], now: Date = Date()) throws(BusDecodingError) -> BusMessage? {
        guard part.command != .hello, part.command != .part else {
            throw BusDecodingError(description: "a \(part.command.rawValue) is never sent in parts")
        }
        let most = (Bus.maxMessageBytes + Bus.maxPartBytes - 1) / Bus.maxPartBytes
        guard (2...most).contains(part.count) else {
            throw BusDecodingError(description: "count must be 2-\(most)")
        }
        guard let piece = Data(base64Encoded: part.data), !piece.isEmpty, piece.count <= Bus.maxPartBytes else {
            forget(identity)
            throw BusDecodingError(description: "data must be base64 of 1-\(Bus.maxPartBytes) bytes")
        }
        if part.index == 0 {
            forget(identity)
            assemblies[identity] = Assembly(messageID: part.messageID, command: part.command, count: part.count, lastPieceAt: now)
        }
        guard var assembly = take(identity), assembly.messageID == part.messageID,
            assembly.command == part.command, assembly.count == part.count, assembly.received == part.index
        else {
            throw BusDecodingError(description: "part \(part.index) of \(part.messageID) is out of order or of another message")
        }
        guard assembly.body.count + piece.count <= Bus.maxMessageBytes else {
            throw BusDecodingError(description: "the message is larger than \(Bus.maxMessageBytes) bytes")
        }
        guard heldBytes + assembly.body.count + piece.count <= Self.maxHeldBytes else {
            throw BusDecodingError(description: "the server holds \(heldBytes) bytes of unfinished messages; send it again later")
        }
        assembly.body.append(piece)
        assembly.received += 1
        assembly.lastPieceAt = now
        guard assembly.received == assembly.count else {
            heldBytes += assembly.body.count
            assemblies[identity] = assembly
            return nil
        }
        return BusMessage(command: assembly.command, body: assembly.body)
    }

    /// Forgets messages whose last piece came before `cutoff` (their sender went away).
    mutating func dropIdle(since cutoff: Date) {
        for (identity, assembly) in assemblies where assembly.lastPieceAt < cutoff { forget(identity) }
    }

    /// Forgets the message `identity` was sending (it disconnected, or starts another).
    mutating func forget(_ identity: [UInt8]) {
        _ = take(identity)
    }

    private mutating func take(_ identity: [UInt8]) -> Assembly? {
        guard let assembly = assemblies.removeValue(forKey: identity) else { return nil }
        heldBytes -= assembly.body.count
        return assembly
    }
}

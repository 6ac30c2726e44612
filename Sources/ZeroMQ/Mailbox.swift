import Synchronization

/// A queue any thread may post to, read by the one thread that owns a socket: posting
/// wakes the owner's `Poller`, which watches `fileDescriptor`.
public final class Mailbox<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    private let signal: WakeupSignal

    /// An empty mailbox with its own wake-up descriptor.
    public init() throws {
        signal = try WakeupSignal()
    }

    /// The descriptor to add to the owner's poller; readable while items wait.
    public var fileDescriptor: Int32 { signal.fileDescriptor }

    /// Queues an item and wakes the owner.
    public func post(_ item: Item) {
        items.withLock { $0.append(item) }
        signal.notify()
    }

    /// Takes every waiting item, in posting order (owner thread only).
    public func takeAll() -> [Item] {
        signal.drain()
        return items.withLock { items in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
    }
}

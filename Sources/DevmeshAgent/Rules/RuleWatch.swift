import DevmeshRoutesAPI

/// One subscriber of the rules index: a `WatchWorkloadRoutingRules` stream, or anything else that
/// follows the rules (tests, a future HTTP watch).
///
/// The index pushes ops into the watch's own bounded queue; the consumer pulls them with `next()`
/// when its transport can write. Confined to the agent's loop thread, like the index.
///
/// Life cycle: `streaming` until the consumer calls `cancel()` (the stream ended) or the queue
/// would pass `maxPending` (the consumer is too slow): then `disconnected(.overflow)`, the queued
/// ops are dropped and `onDisconnect` runs once. A disconnected watch never receives another op,
/// so a consumer that sees it closes its stream and the client re-watches (resync: ADDs, SYNCED).
public final class RuleWatch {
    public enum State: Equatable, Sendable {
        case streaming
        case disconnected(DisconnectReason)
    }

    public enum DisconnectReason: Equatable, Sendable {
        /// The consumer fell more than `maxPending` ops behind.
        case overflow
        /// The consumer cancelled.
        case cancelled
    }

    public let filter: WorkloadRoutingRulesRequest
    /// Most ops this watch may hold: the initial snapshot it was given plus the configured slack.
    public let maxPending: Int
    public private(set) var state: State = .streaming
    /// Ops delivered so far by `next()`.
    public private(set) var delivered: UInt64 = 0
    private var queue = OpQueue()
    /// Runs when the queue goes from empty to non-empty: the consumer should schedule a write
    /// (it may also drain with `next()` or `cancel()` right there; both are safe re-entrantly).
    var onReadable: (() -> Void)?
    /// Runs once, when the index disconnects the watch (never after `cancel()`).
    var onDisconnect: ((DisconnectReason) -> Void)?
    weak var index: RulesIndex?
    let id: UInt64

    init(id: UInt64, filter: WorkloadRoutingRulesRequest, maxPending: Int, index: RulesIndex) {
        self.id = id
        self.filter = filter
        self.maxPending = maxPending
        self.index = index
    }

    /// Ops queued and not yet taken.
    public var pendingCount: Int { queue.count }

    /// The next op in order, or nil when none is queued (or the watch is disconnected).
    public func next() -> WorkloadRoutingRuleOp? {
        guard state == .streaming, let op = queue.popFirst() else { return nil }
        delivered += 1
        return op
    }

    /// Up to `limit` ops at once (a consumer that frames several per write).
    public func next(upTo limit: Int) -> [WorkloadRoutingRuleOp] {
        var ops: [WorkloadRoutingRuleOp] = []
        while ops.count < limit, let op = next() { ops.append(op) }
        return ops
    }

    /// Ends the watch from the consumer's side; the index forgets it.
    public func cancel() {
        guard state == .streaming else { return }
        state = .disconnected(.cancelled)
        queue.removeAll()
        index?.remove(self)
    }

    /// Queues `op`; returns false when that would pass `maxPending` (the caller disconnects).
    func enqueue(_ op: WorkloadRoutingRuleOp) -> Bool {
        // A consumer may cancel from inside `onReadable` while the index is still fanning out
        // the same update: the rest of that update is dropped, not queued.
        guard state == .streaming else { return true }
        guard queue.count < maxPending else { return false }
        let wasEmpty = queue.isEmpty
        queue.append(op)
        if wasEmpty { onReadable?() }
        return true
    }

    func disconnect(_ reason: DisconnectReason) {
        guard state == .streaming else { return }
        state = .disconnected(reason)
        queue.removeAll()
        let callback = onDisconnect
        onDisconnect = nil
        onReadable = nil
        callback?(reason)
    }
}

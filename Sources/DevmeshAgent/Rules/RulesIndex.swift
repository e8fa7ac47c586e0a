import DevmeshRoutesAPI

/// The current routing rules and everyone watching them.
///
/// `update(to:)` takes the complete new rule set (from `RuleDerivation` after each store change),
/// diffs it against the current one and sends every watch exactly the ops its filter sees, in
/// order (routes-api.md §3):
///
/// | rule before → after, as seen through the watch's filter | op sent |
/// |---|---|
/// | absent or filtered out → present and in the filter | ADD (the new rule) |
/// | in the filter → gone or filtered out | REMOVE (the old rule, whole) |
/// | in the filter → changed and still in the filter | REPLACE (the new rule) |
///
/// A rule can move in or out of a filter without its identity changing (a route group's
/// destination sandbox changes when a conflict is decided differently), hence the middle cases.
///
/// A new watch first gets the matching rules as ADDs (sorted by identity), then one SYNCED.
/// Each watch has its own bounded queue: a watch that falls behind is disconnected (its consumer
/// closes the stream, and the client re-watches), and the others never wait for it.
///
/// Confined to one thread (the agent's event loop): not Sendable, no locks.
public final class RulesIndex {
    /// Slack each watch gets beyond its initial snapshot before it is disconnected.
    public static let defaultWatchBuffer = 4096

    public let watchBuffer: Int
    public private(set) var rules: [RuleIdentity: WorkloadRoutingRule] = [:]
    /// Incremented by every `update` that changed at least one rule.
    public private(set) var revision: UInt64 = 0
    /// Watches disconnected because they fell behind, since start.
    public private(set) var overflowDisconnects: UInt64 = 0
    private var watches: [UInt64: RuleWatch] = [:]
    private var nextWatchID: UInt64 = 1

    public init(watchBuffer: Int = RulesIndex.defaultWatchBuffer) {
        precondition(watchBuffer > 0, "a watch needs room for at least one op")
        self.watchBuffer = watchBuffer
    }

    public var watchCount: Int { watches.count }

    /// The rules `filter` selects, sorted by identity (the HTTP twin and the unary Get).
    public func rules(matching filter: WorkloadRoutingRulesRequest) -> [WorkloadRoutingRule] {
        rules.filter { filter.matches($0.value) }.sorted { $0.key < $1.key }.map(\.value)
    }

    /// Starts a watch. Its queue already holds the ADDs and the SYNCED when this returns.
    ///
    /// - Parameters:
    ///   - onReadable: called (on this thread) whenever the queue goes from empty to non-empty
    ///     after a later change; the consumer then calls `next()` until it returns nil.
    ///   - onDisconnect: called once if the index drops the watch (overflow).
    public func watch(_ filter: WorkloadRoutingRulesRequest, onReadable: (() -> Void)? = nil,
                      onDisconnect: ((RuleWatch.DisconnectReason) -> Void)? = nil) -> RuleWatch {
        let initial = self.rules(matching: filter)
        let watch = RuleWatch(id: nextWatchID, filter: filter, maxPending: initial.count + 1 + watchBuffer, index: self)
        nextWatchID += 1
        for rule in initial { _ = watch.enqueue(WorkloadRoutingRuleOp(op: .add, route: rule)) }
        _ = watch.enqueue(WorkloadRoutingRuleOp(op: .synced))
        watch.onReadable = onReadable
        watch.onDisconnect = onDisconnect
        watches[watch.id] = watch
        return watch
    }

    /// Replaces the rule set and fans the difference out to every watch. Returns the changes
    /// (identity, before, after), sorted by identity.
    @discardableResult
    public func update(to newRules: [RuleIdentity: WorkloadRoutingRule]) -> [RuleChange] {
        var changes: [RuleChange] = []
        for (identity, rule) in newRules where rules[identity] != rule {
            changes.append(RuleChange(identity: identity, before: rules[identity], after: rule))
        }
        for (identity, rule) in rules where newRules[identity] == nil {
            changes.append(RuleChange(identity: identity, before: rule, after: nil))
        }
        guard !changes.isEmpty else { return [] }
        rules = newRules
        return publish(changes)
    }

    /// Sets the rules named in `delta` (nil: the rule is gone) and leaves every other rule as it
    /// is; fans out what changed exactly like `update(to:)`. For a write that can only touch a few
    /// rules (`RuleDerivation.rules(afterChangeOf:to:in:)`): the cost follows the delta, not the
    /// whole rule set.
    @discardableResult
    public func update(changing delta: [RuleIdentity: WorkloadRoutingRule?]) -> [RuleChange] {
        var changes: [RuleChange] = []
        for (identity, rule) in delta where rules[identity] != rule {
            changes.append(RuleChange(identity: identity, before: rules[identity], after: rule))
            rules[identity] = rule
        }
        guard !changes.isEmpty else { return [] }
        return publish(changes)
    }

    /// Sends every watch the ops its filter sees for `changes` (already applied to `rules`).
    private func publish(_ unsorted: [RuleChange]) -> [RuleChange] {
        let changes = unsorted.sorted { $0.identity < $1.identity }
        revision += 1
        var overflowed: [RuleWatch] = []
        for watch in watches.values.sorted(by: { $0.id < $1.id }) {
            for change in changes {
                guard let op = change.op(seenThrough: watch.filter) else { continue }
                if !watch.enqueue(op) {
                    overflowed.append(watch)
                    break
                }
            }
        }
        for watch in overflowed {
            watches[watch.id] = nil
            overflowDisconnects += 1
            watch.disconnect(.overflow)
        }
        return changes
    }

    func remove(_ watch: RuleWatch) {
        watches[watch.id] = nil
    }
}

/// One rule that changed in an update.
public struct RuleChange: Equatable, Sendable {
    public var identity: RuleIdentity
    public var before: WorkloadRoutingRule?
    public var after: WorkloadRoutingRule?

    /// The op a watch with `filter` must receive for this change, or nil when it sees nothing.
    public func op(seenThrough filter: WorkloadRoutingRulesRequest) -> WorkloadRoutingRuleOp? {
        let wasVisible = before.map(filter.matches) ?? false
        let isVisible = after.map(filter.matches) ?? false
        switch (wasVisible, isVisible) {
        case (false, true): return WorkloadRoutingRuleOp(op: .add, route: after)
        case (true, false): return WorkloadRoutingRuleOp(op: .remove, route: before)
        case (true, true): return WorkloadRoutingRuleOp(op: .replace, route: after)
        case (false, false): return nil
        }
    }
}

import DevmeshRoutesAPI

/// The agent's operations, independent of any transport: the REST handlers and (later) the gRPC
/// server call these. Each write validates, makes the change durable (`DurableStore.commit`),
/// re-derives the routing rules and hands them to the `RulesIndex`, which tells every watcher.
/// A write that fails changes nothing.
///
/// Confined to the agent's loop thread, like the store and the index.
public final class AgentService {
    public let store: DurableStore
    public let index: RulesIndex
    public let limits: AgentLimits
    private var keys: RoutingKeyGenerator
    private let clock: () -> Int64

    public init(store: DurableStore, index: RulesIndex = RulesIndex(), limits: AgentLimits = AgentLimits(),
                keys: RoutingKeyGenerator = RoutingKeyGenerator(), clock: @escaping () -> Int64 = Timestamp.now) {
        self.store = store
        self.index = index
        self.limits = limits
        self.keys = keys
        self.clock = clock
        index.update(to: RuleDerivation.rules(for: store.state))
    }

    public var state: AgentState { store.state }

    // MARK: Sandboxes

    /// Sandboxes sorted by name.
    public var sandboxes: [Sandbox] {
        state.sandboxes.keys.sorted().map { state.sandboxes[$0]! }
    }

    public func sandbox(named name: String) throws(AgentError) -> Sandbox {
        guard let sandbox = state.sandboxes[name] else { throw AgentError(.notFound, "no sandbox named \"\(name)\"") }
        return sandbox
    }

    /// Creates a sandbox; 409 when the name or the requested routing key is taken.
    public func createSandbox(_ spec: SandboxSpec) throws(AgentError) -> Sandbox {
        try SpecValidation.validate(spec, limits: limits)
        if state.sandboxes[spec.name] != nil {
            throw AgentError(.conflict, field: "name",
                             "sandbox \"\(spec.name)\" already exists; delete it first or PUT to replace it")
        }
        guard state.sandboxes.count < limits.maxSandboxes else {
            throw AgentError(.conflict, "the agent already holds \(limits.maxSandboxes) sandboxes (its limit)")
        }
        let key = try claimRoutingKey(spec.routingKey, keepingOwn: nil)
        let sandbox = Sandbox(name: spec.name, routingKey: key, labels: spec.labels, forks: spec.forks,
                              revision: state.sequence + 1, createdAt: clock())
        try commit(.putSandbox(sandbox))
        return sandbox
    }

    /// Creates or replaces the sandbox `name` (PUT). A replacement keeps its routing key unless the
    /// spec names another, and keeps its revision and creation time (so route-group conflicts keep
    /// their winner). Returns the sandbox and whether it was created.
    public func putSandbox(_ spec: SandboxSpec) throws(AgentError) -> (sandbox: Sandbox, created: Bool) {
        guard let existing = state.sandboxes[spec.name] else { return (try createSandbox(spec), true) }
        try SpecValidation.validate(spec, limits: limits)
        let key = try claimRoutingKey(spec.routingKey ?? existing.routingKey, keepingOwn: existing.routingKey)
        let sandbox = Sandbox(name: spec.name, routingKey: key, labels: spec.labels, forks: spec.forks,
                              revision: existing.revision, createdAt: existing.createdAt)
        if sandbox != existing { try commit(.putSandbox(sandbox)) }
        return (sandbox, false)
    }

    @discardableResult
    public func deleteSandbox(named name: String) throws(AgentError) -> Sandbox {
        let sandbox = try sandbox(named: name)
        try commit(.deleteSandbox(name))
        return sandbox
    }

    // MARK: Route groups

    public var routeGroups: [RouteGroup] {
        state.routeGroups.keys.sorted().map { state.routeGroups[$0]! }
    }

    public func routeGroup(named name: String) throws(AgentError) -> RouteGroup {
        guard let group = state.routeGroups[name] else { throw AgentError(.notFound, "no route group named \"\(name)\"") }
        return group
    }

    public func createRouteGroup(_ spec: RouteGroupSpec) throws(AgentError) -> RouteGroup {
        try SpecValidation.validate(spec, limits: limits)
        if state.routeGroups[spec.name] != nil {
            throw AgentError(.conflict, field: "name",
                             "route group \"\(spec.name)\" already exists; delete it first or PUT to replace it")
        }
        guard state.routeGroups.count < limits.maxRouteGroups else {
            throw AgentError(.conflict, "the agent already holds \(limits.maxRouteGroups) route groups (its limit)")
        }
        let key = try claimRoutingKey(spec.routingKey, keepingOwn: nil)
        let group = RouteGroup(name: spec.name, routingKey: key, match: spec.match, revision: state.sequence + 1,
                               createdAt: clock())
        try commit(.putRouteGroup(group))
        return group
    }

    public func putRouteGroup(_ spec: RouteGroupSpec) throws(AgentError) -> (group: RouteGroup, created: Bool) {
        guard let existing = state.routeGroups[spec.name] else { return (try createRouteGroup(spec), true) }
        try SpecValidation.validate(spec, limits: limits)
        let key = try claimRoutingKey(spec.routingKey ?? existing.routingKey, keepingOwn: existing.routingKey)
        let group = RouteGroup(name: spec.name, routingKey: key, match: spec.match, revision: existing.revision,
                               createdAt: existing.createdAt)
        if group != existing { try commit(.putRouteGroup(group)) }
        return (group, false)
    }

    @discardableResult
    public func deleteRouteGroup(named name: String) throws(AgentError) -> RouteGroup {
        let group = try routeGroup(named: name)
        try commit(.deleteRouteGroup(name))
        return group
    }

    public func resolution(of group: RouteGroup) -> GroupResolution {
        RuleDerivation.resolution(of: group, in: state)
    }

    // MARK: Rules

    /// The rules a Get (or the HTTP twin) with `filter` returns.
    public func routingRules(_ filter: WorkloadRoutingRulesRequest) -> [WorkloadRoutingRule] {
        index.rules(matching: filter)
    }

    // MARK: Internals

    /// The requested key if it is free (or already ours), else a fresh generated one.
    private func claimRoutingKey(_ requested: String?, keepingOwn own: String?) throws(AgentError) -> String {
        guard let requested else {
            let state = self.state
            return keys.makeKey { state.routingKeyInUse($0) }
        }
        if requested != own, let owner = state.owner(ofRoutingKey: requested) {
            throw AgentError(.conflict, field: "routingKey",
                             "routing key \"\(requested)\" is already used by \(owner); choose another or omit it")
        }
        return requested
    }

    private func commit(_ mutation: StoreMutation) throws(AgentError) {
        let previous: Sandbox?
        switch mutation {
        case .putSandbox(let sandbox): previous = state.sandboxes[sandbox.name]
        case .deleteSandbox(let name): previous = state.sandboxes[name]
        case .putRouteGroup, .deleteRouteGroup: previous = nil
        }
        do {
            try store.commit(mutation)
        } catch {
            throw AgentError(.unavailable, "the change was not saved: \(error)")
        }
        switch mutation {
        case .putSandbox(let sandbox):
            // Only this sandbox's rules and those of the groups it is in can change.
            index.update(changing: RuleDerivation.rules(afterChangeOf: previous, to: sandbox, in: store.state))
        case .deleteSandbox:
            index.update(changing: RuleDerivation.rules(afterChangeOf: previous, to: nil, in: store.state))
        case .putRouteGroup, .deleteRouteGroup:
            // Rare, and a group can touch any rule: derive them all again.
            index.update(to: RuleDerivation.rules(for: store.state))
        }
    }
}

/// Everything the agent stores, and the only ways it changes. The durable store writes each
/// `StoreMutation` to its log before `apply` runs, so replaying the log rebuilds this value.
public struct AgentState: Equatable, Sendable {
    public var sandboxes: [String: Sandbox] = [:]
    public var routeGroups: [String: RouteGroup] = [:]
    /// The sequence number of the last mutation applied (0 for an empty store).
    public var sequence: UInt64 = 0

    public init() {}

    public mutating func apply(_ mutation: StoreMutation) {
        switch mutation {
        case .putSandbox(let sandbox): sandboxes[sandbox.name] = sandbox
        case .deleteSandbox(let name): sandboxes[name] = nil
        case .putRouteGroup(let group): routeGroups[group.name] = group
        case .deleteRouteGroup(let name): routeGroups[name] = nil
        }
        sequence += 1
    }

    /// Whether any sandbox or route group already uses `key`.
    public func routingKeyInUse(_ key: String) -> Bool {
        sandboxes.values.contains { $0.routingKey == key } || routeGroups.values.contains { $0.routingKey == key }
    }

    /// Who uses `key`, for conflict messages ("sandbox \"a\"").
    public func owner(ofRoutingKey key: String) -> String? {
        if let sandbox = sandboxes.values.first(where: { $0.routingKey == key }) { return "sandbox \"\(sandbox.name)\"" }
        if let group = routeGroups.values.first(where: { $0.routingKey == key }) { return "route group \"\(group.name)\"" }
        return nil
    }
}

/// One acknowledged change, as written to the log.
public enum StoreMutation: Equatable, Sendable {
    case putSandbox(Sandbox)
    case deleteSandbox(String)
    case putRouteGroup(RouteGroup)
    case deleteRouteGroup(String)
}

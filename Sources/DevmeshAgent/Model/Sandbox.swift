import DevmeshRoutesAPI

/// A fork: the sandboxed copy of one baseline workload, and where each of its ports is served.
///
/// `forkOf` names the baseline (kind, namespace, name). `ports` maps a workload (container) port
/// to one or more sandbox destinations (host:port), exactly as a rule's `mappings` do
/// (routes-api.md §6: one workload port may list several Services or Service ports).
public struct Fork: Equatable, Sendable {
    public var forkOf: BaselineWorkload
    public var ports: [WorkloadPortMapping]

    public init(forkOf: BaselineWorkload, ports: [WorkloadPortMapping] = []) {
        self.forkOf = forkOf
        self.ports = ports
    }
}

/// What a client asks for when it creates or replaces a sandbox.
public struct SandboxSpec: Equatable, Sendable {
    public var name: String
    /// nil: the agent generates one (`RoutingKeyGenerator`).
    public var routingKey: String?
    /// Free-form labels that route groups can select on.
    public var labels: [String: String]
    public var forks: [Fork]

    public init(name: String, routingKey: String? = nil, labels: [String: String] = [:], forks: [Fork]) {
        self.name = name
        self.routingKey = routingKey
        self.labels = labels
        self.forks = forks
    }
}

/// A stored sandbox: the validated spec plus what the agent decided.
public struct Sandbox: Equatable, Sendable {
    public var name: String
    public var routingKey: String
    public var labels: [String: String]
    public var forks: [Fork]
    /// The store sequence number that first created it. Orders sandboxes when a route group
    /// matches two that fork the same workload (the older one wins); kept across replacements.
    public var revision: UInt64
    /// Creation time, seconds since the Unix epoch.
    public var createdAt: Int64

    public init(name: String, routingKey: String, labels: [String: String] = [:], forks: [Fork], revision: UInt64,
                createdAt: Int64) {
        self.name = name
        self.routingKey = routingKey
        self.labels = labels
        self.forks = forks
        self.revision = revision
        self.createdAt = createdAt
    }

    /// The header a client sends so that its requests reach this sandbox (carriers.md §7).
    public var routingHeader: String { "baggage: sd-routing-key=\(routingKey)" }
}

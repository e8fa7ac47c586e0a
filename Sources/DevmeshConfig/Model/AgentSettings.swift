import DevmeshRouting

/// The control plane the proxy follows: a `devmesh agent`, or any server of the Signadot Routes
/// API (gRPC `routes.Routes/WatchWorkloadRoutingRules`). The proxy watches the rules of each
/// subscribed workload and adds them to that service's routes.
public struct AgentSettings: Sendable, Equatable {
    /// The Routes API's gRPC address (h2c).
    public var address: EndpointSpec
    /// How long a starting proxy waits for the first complete set of rules (SYNCED) before it
    /// reports ready anyway, serving the baseline only and saying so.
    public var syncTimeout: Milliseconds
    /// A PING on each watch every `keepaliveInterval` (`.off`: none); a watch whose PING goes
    /// unanswered for `keepaliveTimeout` is dropped and reconnects (the agent is hung, or the
    /// path to it is dead, and its rules may be stale).
    public var keepaliveInterval: Milliseconds
    public var keepaliveTimeout: Milliseconds
    public var subscriptions: [WorkloadSubscription]

    public static let defaultPort: UInt16 = 7777
    public static let defaultSyncTimeout = Milliseconds.seconds(5)
    /// The Signadot reference client's figures (routes-api.md §3).
    public static let defaultKeepaliveInterval = Milliseconds.seconds(5)
    public static let defaultKeepaliveTimeout = Milliseconds.seconds(15)

    public init(address: EndpointSpec, syncTimeout: Milliseconds = AgentSettings.defaultSyncTimeout,
                keepaliveInterval: Milliseconds = AgentSettings.defaultKeepaliveInterval,
                keepaliveTimeout: Milliseconds = AgentSettings.defaultKeepaliveTimeout,
                subscriptions: [WorkloadSubscription]) {
        self.address = address
        self.syncTimeout = syncTimeout
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveTimeout = keepaliveTimeout
        self.subscriptions = subscriptions
    }
}

/// One baseline workload whose routing rules fill a service's routes.
public struct WorkloadSubscription: Sendable, Equatable, Hashable {
    /// The service (by name) the rules route for.
    public var service: String
    public var kind: String
    public var namespace: String
    public var name: String
    /// The workload (container) port whose mappings apply to this service's traffic.
    public var port: UInt16

    public init(service: String, kind: String, namespace: String, name: String, port: UInt16) {
        self.service = service
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.port = port
    }

    public var workload: String { "\(kind)/\(namespace)/\(name)" }
}

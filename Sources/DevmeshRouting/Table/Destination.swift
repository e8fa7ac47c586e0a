/// Whether a destination is a service's shared baseline or a sandbox reached by routing key.
public enum DestinationKind: String, Sendable, Equatable {
    case baseline
    case sandbox
}

/// One place a request can be sent: a service's baseline or one of its sandbox routes.
///
/// Every destination of a table has a dense `id` (its index in `RouteTable.destinations`), so
/// the proxy can keep per-worker state (resolved addresses, round-robin counters, connection
/// pools) in plain arrays indexed by id. Ids are stable within one table only: a new table
/// may number differently, so per-destination state is rebuilt (or matched by
/// `kind`/`name`/`endpoints`) when a new snapshot is picked up.
public struct Destination: Sendable, Equatable {
    /// Index in `RouteTable.destinations`.
    public let id: Int
    public let kind: DestinationKind
    /// The service name for a baseline, the sandbox name for a sandbox (shown in logs, error
    /// bodies and `/routes`).
    public let name: String
    /// Index in `RouteTable.services` of the service this destination belongs to.
    public let serviceIndex: Int
    /// At least one endpoint; balanced round robin by the proxy.
    public let endpoints: [EndpointSpec]
    /// The key that selects this destination (sandboxes only).
    public let routingKey: String?
    /// The destination to use when this one cannot be reached: the service's baseline when
    /// the route's fallback policy is `.baseline`, nil when it is `.fail` (and for baselines).
    public let fallbackDestination: Int?
    /// The protocol spoken to the endpoints.
    public let upstreamProtocol: UpstreamProtocol
}

/// The outcome of routing one request.
public struct RouteDecision: Sendable, Equatable {
    /// Index in `RouteTable.destinations`.
    public let destination: Int
    /// Index of the routing-key candidate that selected a sandbox, or -1 for the baseline.
    public let candidateIndex: Int
    public let isSandbox: Bool

    public init(destination: Int, candidateIndex: Int, isSandbox: Bool) {
        self.destination = destination
        self.candidateIndex = candidateIndex
        self.isSandbox = isSandbox
    }
}

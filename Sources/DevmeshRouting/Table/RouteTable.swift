/// The compiled, immutable routing state: which service a request is for (by Host), which
/// destination its routing keys select, and how to find those keys.
///
/// Built off the request path by `build` (from configuration or a Routes API sync), published
/// through a `RouteSnapshotBox`, then read concurrently by every worker without locks. The
/// request path is:
///
/// ```
/// let service = table.service(forHost: hostValue)          // nil -> 404
/// table.extractor.extract(from: headers, into: candidates)  // per worker, reused
/// let decision = table.resolve(service: service!, candidates: candidates)
/// let destination = table.destinations[decision.destination]
/// ```
/// None of these calls allocates.
public final class RouteTable: Sendable {
    /// One service as compiled.
    public struct Service: Sendable, Equatable {
        public let name: String
        /// Normalised host names (lower case, IPv6 in brackets); empty for the default service.
        public let hosts: [String]
        /// Id of the baseline destination.
        public let baselineDestination: Int
        /// Ids of the sandbox destinations, in the order of the spec's routes.
        public let routeDestinations: Range<Int>
    }

    /// The version given to `build` (the proxy's publish counter or the control plane's).
    public let version: UInt64
    /// The spec the table was built from, for `/routes` and for diffing on reload.
    public let spec: RoutingSpec
    /// Finds the routing keys of a request, as configured by `spec.carriers`.
    public let extractor: RoutingKeyExtractor
    /// Every baseline and sandbox destination; `destinations[i].id == i`.
    public let destinations: [Destination]
    public let services: [Service]
    /// Index of the service without hosts, if any.
    public let defaultService: Int?

    private let hostIndex: HostIndex
    /// (service index, routing key) -> sandbox destination id.
    private let routeIndex: FlatKeyTable

    init(version: UInt64, spec: RoutingSpec, destinations: [Destination], services: [Service],
         defaultService: Int?, hostIndex: HostIndex, routeIndex: FlatKeyTable) {
        self.version = version
        self.spec = spec
        extractor = RoutingKeyExtractor(spec.carriers)
        self.destinations = destinations
        self.services = services
        self.defaultService = defaultService
        self.hostIndex = hostIndex
        self.routeIndex = routeIndex
    }

    /// Validates `spec` and compiles it. Throws the first problem found; see `RouteTableError`.
    public static func build(_ spec: RoutingSpec, version: UInt64) throws(RouteTableError) -> RouteTable {
        try RouteTableBuilder.build(spec, version: version)
    }

    /// The service a request is for, from its Host header value (any case, optional `:port`,
    /// IPv6 literal in brackets). Falls back to the default service; nil when no service
    /// matches and there is no default (the proxy answers 404).
    public func service(forHost host: UnsafeRawBufferPointer) -> Int? {
        hostIndex.service(forHost: host)
    }

    /// Picks the destination for a request of `service` with these candidates: the first
    /// candidate that has a route in the service wins (routes-api.md §6 loops over the keys in
    /// order); when none has one, the service's baseline.
    public func resolve(service: Int, candidates: RoutingKeyCandidates) -> RouteDecision {
        precondition(services.indices.contains(service), "service index out of range")
        if !routeIndex.isEmpty {
            for index in 0..<candidates.count {
                if let destination = routeIndex.value(for: candidates.key(at: index), tag: UInt32(service)) {
                    return RouteDecision(destination: destination, candidateIndex: index, isSandbox: true)
                }
            }
        }
        return RouteDecision(destination: services[service].baselineDestination, candidateIndex: -1,
                             isSandbox: false)
    }

    /// The sandbox destination `key` selects in `service`, or nil.
    public func sandboxDestination(service: Int, key: UnsafeRawBufferPointer) -> Int? {
        routeIndex.value(for: key, tag: UInt32(service))
    }

    /// The number of (service, routing key) routes.
    public var routeCount: Int { routeIndex.count }
}

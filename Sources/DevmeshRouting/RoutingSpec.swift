/// The declarative description of routing that configuration (YAML file, quick-start flags,
/// later the agent's watch stream) produces and `RouteTable` compiles. Plain values, validated
/// when the table is built; nothing here is looked at on the request path.

/// One upstream address as written by the operator: a host name or IP literal and a port.
/// Names are resolved when a table is built (never on the request path).
public struct EndpointSpec: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// What to do when a sandbox destination cannot be reached (connect refused, no endpoint).
public enum FallbackPolicy: String, Sendable, Equatable {
    /// Answer 502/503 with a body that names the sandbox: the default, so that a broken sandbox
    /// is never silently hidden behind the baseline.
    case fail
    /// Send the request to the service's baseline instead.
    case baseline
}

/// The protocol devmesh speaks to a destination's endpoints.
public enum UpstreamProtocol: String, Sendable, Equatable, CaseIterable {
    /// The protocol the request arrived with (HTTP/1.1 stays HTTP/1.1, h2c stays h2c): the default,
    /// so that a proxy in front of gRPC servers works without configuration.
    case auto
    case http1
    /// HTTP/2 over cleartext with prior knowledge.
    case h2c
}

/// A routing key mapped to a sandbox destination.
public struct RouteSpec: Sendable, Equatable {
    /// The routing key, as it appears in the carriers (`[A-Za-z0-9._-]`, 1–128 bytes).
    public var routingKey: String
    /// The sandbox name shown in error bodies, logs and `/routes` (defaults to the key).
    public var sandbox: String
    /// One or more endpoints, balanced round robin.
    public var endpoints: [EndpointSpec]
    public var fallback: FallbackPolicy
    /// The sandbox's protocol; nil takes the service's.
    public var upstreamProtocol: UpstreamProtocol?

    public init(routingKey: String, sandbox: String? = nil, endpoints: [EndpointSpec],
                fallback: FallbackPolicy = .fail, upstreamProtocol: UpstreamProtocol? = nil) {
        self.routingKey = routingKey
        self.sandbox = sandbox ?? routingKey
        self.endpoints = endpoints
        self.fallback = fallback
        self.upstreamProtocol = upstreamProtocol
    }
}

/// One service: a baseline destination plus its sandbox routes. In gateway mode a service is
/// selected by the request's Host; a service with no hosts is the default (sidecar mode is a
/// single default service).
public struct ServiceSpec: Sendable, Equatable {
    public var name: String
    /// Host names (no port, case-insensitive) that select this service. Empty = default service.
    public var hosts: [String]
    public var baseline: [EndpointSpec]
    public var routes: [RouteSpec]
    /// The baseline's protocol, and the default of the service's routes.
    public var upstreamProtocol: UpstreamProtocol

    public init(name: String, hosts: [String] = [], baseline: [EndpointSpec], routes: [RouteSpec] = [],
                upstreamProtocol: UpstreamProtocol = .auto) {
        self.name = name
        self.hosts = hosts
        self.baseline = baseline
        self.routes = routes
        self.upstreamProtocol = upstreamProtocol
    }
}

/// Where routing keys are looked for (notes/carriers.md). Precedence is fixed by the router:
/// custom headers first (in the order given), then baggage, tracestate, uberctx-, ot-baggage-,
/// baggage- (Brave) and jaeger-baggage.
public struct CarrierSpec: Sendable, Equatable {
    /// Key names searched in every carrier, in priority order.
    public var keyNames: [String]
    /// Header names whose whole (trimmed) value is a routing key.
    public var customHeaders: [String]

    public static let defaultKeyNames = ["sd-routing-key", "sd-sandbox", "sd-workspace"]

    public init(keyNames: [String] = CarrierSpec.defaultKeyNames, customHeaders: [String] = []) {
        self.keyNames = keyNames
        self.customHeaders = customHeaders
    }
}

/// Everything the router needs: the services and the carriers.
public struct RoutingSpec: Sendable, Equatable {
    public var services: [ServiceSpec]
    public var carriers: CarrierSpec

    public init(services: [ServiceSpec], carriers: CarrierSpec = CarrierSpec()) {
        self.services = services
        self.carriers = carriers
    }
}

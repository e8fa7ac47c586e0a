/// Why a `RoutingSpec` cannot become a `RouteTable`. A table is rejected whole: the proxy keeps
/// serving its last good table and reports `description`, which names the service, route or
/// carrier and the problem.
public enum RouteTableError: Error, Equatable, CustomStringConvertible {
    case noServices
    /// `index` is the position of the service in the spec (its name is empty).
    case emptyServiceName(index: Int)
    case duplicateServiceName(String)
    /// Two services without hosts: only one can be the default.
    case multipleDefaultServices(first: String, second: String)
    case invalidHost(service: String, host: String, reason: String)
    case duplicateHost(host: String, firstService: String, secondService: String)
    case noBaselineEndpoints(service: String)
    /// `routingKey` is nil for a baseline endpoint.
    case invalidEndpoint(service: String, routingKey: String?, endpoint: String, reason: String)
    case invalidRoutingKey(service: String, key: String)
    case duplicateRoutingKey(service: String, key: String)
    case emptySandboxName(service: String, key: String)
    case noRouteEndpoints(service: String, key: String)
    case invalidCarrierKeyName(String)
    case duplicateCarrierKeyName(String)
    case invalidCustomHeader(String)
    case duplicateCustomHeader(String)
    case tooManyCarrierNames(what: String, count: Int, limit: Int)

    public var description: String {
        switch self {
        case .noServices:
            "no services: at least one service is required"
        case .emptyServiceName(let index):
            "service #\(index + 1): empty name"
        case .duplicateServiceName(let name):
            "duplicate service name \(quoted(name))"
        case .multipleDefaultServices(let first, let second):
            "services \(quoted(first)) and \(quoted(second)) both have no hosts: at most one default service is allowed"
        case .invalidHost(let service, let host, let reason):
            "service \(quoted(service)): invalid host \(quoted(host)): \(reason)"
        case .duplicateHost(let host, let first, let second):
            "host \(quoted(host)) is claimed by services \(quoted(first)) and \(quoted(second))"
        case .noBaselineEndpoints(let service):
            "service \(quoted(service)): baseline has no endpoints"
        case .invalidEndpoint(let service, let key?, let endpoint, let reason):
            "service \(quoted(service)): route \(quoted(key)): endpoint \(quoted(endpoint)): \(reason)"
        case .invalidEndpoint(let service, nil, let endpoint, let reason):
            "service \(quoted(service)): baseline endpoint \(quoted(endpoint)): \(reason)"
        case .invalidRoutingKey(let service, let key):
            "service \(quoted(service)): invalid routing key \(quoted(key)): must be 1-128 bytes of [A-Za-z0-9._-]"
        case .duplicateRoutingKey(let service, let key):
            "service \(quoted(service)): duplicate routing key \(quoted(key))"
        case .emptySandboxName(let service, let key):
            "service \(quoted(service)): route \(quoted(key)): empty sandbox name"
        case .noRouteEndpoints(let service, let key):
            "service \(quoted(service)): route \(quoted(key)): no endpoints"
        case .invalidCarrierKeyName(let name):
            "carriers: invalid key name \(quoted(name)): must be a non-empty token"
        case .duplicateCarrierKeyName(let name):
            "carriers: duplicate key name \(quoted(name))"
        case .invalidCustomHeader(let name):
            "carriers: invalid custom header \(quoted(name)): must be a non-empty token"
        case .duplicateCustomHeader(let name):
            "carriers: duplicate custom header \(quoted(name))"
        case .tooManyCarrierNames(let what, let count, let limit):
            "carriers: \(count) \(what), at most \(limit) are supported"
        }
    }
}

/// Quotes a name from configuration, escaped as a JSON string so that a stray quote or
/// control character cannot garble a log line.
private func quoted(_ text: String) -> String {
    var json = JSONText()
    json.string(text)
    return json.text
}

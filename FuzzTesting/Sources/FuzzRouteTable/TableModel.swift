import DevmeshRouting
import FuzzSupport

struct RouteKey: Hashable {
    var service: Int
    var key: String
}

/// The spec as plain dictionaries, the oracle for the table's hash indexes.
struct TableModel {
    var routes: [RouteKey: Int] = [:]
    var hosts: [String: Int] = [:]
    var defaultService: Int?

    /// Destination ids follow the builder's documented numbering: per service, its baseline
    /// then its routes in order.
    init(_ spec: RoutingSpec) {
        var next = 0
        for (index, service) in spec.services.enumerated() {
            next += 1
            for route in service.routes {
                routes[RouteKey(service: index, key: route.routingKey)] = next
                next += 1
            }
            if service.hosts.isEmpty { defaultService = index }
            for host in service.hosts { hosts[Self.normalized(host)] = index }
        }
    }

    /// The configured name in the shape the table stores (lower case, one trailing dot off,
    /// IPv6 in brackets).
    static func normalized(_ host: String) -> String {
        var text = host.lowercased()
        if text.hasPrefix("[") { return text }
        if text.filter({ $0 == ":" }).count > 1 { return "[\(text)]" }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// RFC 9110 §7.2 `uri-host [ ":" port ]` with OWS and one trailing dot removed.
    func service(forHost value: String) -> Int? {
        var host = Substring(value.lowercased())
        while let first = host.first, first == " " || first == "\t" { host.removeFirst() }
        while let last = host.last, last == " " || last == "\t" { host.removeLast() }
        if host.first == "[" {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else {
            if let colon = host.firstIndex(of: ":") { host = host[..<colon] }
            if host.last == "." { host.removeLast() }
        }
        if host.isEmpty { return defaultService }
        return hosts[String(host)] ?? defaultService
    }
}

/// Structural checks of a built table against its spec.
enum TableInvariants {
    static func check(_ table: RouteTable, spec: RoutingSpec) {
        fuzzCheck(table.version == 7 && table.spec == spec, "table does not keep its version and spec")
        fuzzCheck(table.services.count == spec.services.count, "service count differs")
        for (id, destination) in table.destinations.enumerated() {
            fuzzCheck(destination.id == id, "destination \(id) has id \(destination.id)")
            fuzzCheck(!destination.endpoints.isEmpty, "destination \(id) without endpoints")
        }
        var next = 0
        var routeCount = 0
        for (index, service) in spec.services.enumerated() {
            let compiled = table.services[index]
            fuzzCheck(compiled.name == service.name && compiled.baselineDestination == next, "service \(index) misnumbered")
            let baseline = table.destinations[next]
            fuzzCheck(baseline.kind == .baseline && baseline.serviceIndex == index && baseline.endpoints == service.baseline
                      && baseline.fallbackDestination == nil && baseline.routingKey == nil, "baseline \(next) wrong")
            next += 1
            fuzzCheck(compiled.routeDestinations == next..<next + service.routes.count, "route range of service \(index)")
            for route in service.routes {
                let destination = table.destinations[next]
                fuzzCheck(destination.kind == .sandbox && destination.routingKey == route.routingKey
                          && destination.name == route.sandbox && destination.endpoints == route.endpoints
                          && destination.serviceIndex == index, "sandbox destination \(next) wrong")
                fuzzCheck(destination.fallbackDestination == (route.fallback == .baseline ? compiled.baselineDestination : nil),
                          "fallback of destination \(next)")
                fuzzCheck(route.routingKey.utf8.count <= RoutingKeyAlphabet.maxKeyLength
                          && RoutingKeyAlphabet.isValidKey(route.routingKey.utf8), "invalid key accepted")
                let found = Array(route.routingKey.utf8).withUnsafeBytes { table.sandboxDestination(service: index, key: $0) }
                fuzzCheck(found == next, "route \(route.routingKey) of service \(index) not found")
                next += 1
                routeCount += 1
            }
            for configured in service.hosts {
                // A bare IPv6 literal is written in brackets in a Host header.
                let isBareIPv6 = !configured.hasPrefix("[") && configured.filter({ $0 == ":" }).count > 1
                let host = isBareIPv6 ? "[\(configured)]" : configured
                let found = Array(host.utf8).withUnsafeBytes { table.service(forHost: $0) }
                fuzzCheck(found == index, "configured host \(host.debugDescription) selects \(String(describing: found)), not \(index)")
            }
            if service.hosts.isEmpty { fuzzCheck(table.defaultService == index, "default service not \(index)") }
        }
        fuzzCheck(table.destinations.count == next && table.routeCount == routeCount, "destination or route count")
    }
}

import DevmeshBytes

/// Validation and compilation of a `RoutingSpec` (slow path: runs when configuration loads or
/// the control plane pushes routes, never per request). A spec is accepted whole or rejected
/// with the first problem found, so a bad push never half-applies.
enum RouteTableBuilder {
    /// More custom headers or key names than this cannot be ranked (custom headers are tracked
    /// in a 64-bit set per request) and would make no sense anyway.
    static let maxCarrierNames = 64

    static func build(_ spec: RoutingSpec, version: UInt64) throws(RouteTableError) -> RouteTable {
        try validateCarriers(spec.carriers)
        guard !spec.services.isEmpty else { throw .noServices }

        var destinations: [Destination] = []
        var services: [RouteTable.Service] = []
        var defaultService: Int?
        var serviceNames: Set<String> = []
        var hostOwners: [[UInt8]: String] = [:]
        var hosts: [(name: [UInt8], service: Int)] = []
        var routes: [(bytes: [UInt8], tag: UInt32, value: UInt32)] = []

        for (serviceIndex, service) in spec.services.enumerated() {
            let name = service.name
            guard !name.isEmpty else { throw .emptyServiceName(index: serviceIndex) }
            guard serviceNames.insert(name).inserted else { throw .duplicateServiceName(name) }

            if service.hosts.isEmpty {
                if let first = defaultService {
                    throw .multipleDefaultServices(first: spec.services[first].name, second: name)
                }
                defaultService = serviceIndex
            }
            var normalisedHosts: [String] = []
            for host in service.hosts {
                let normalised: [UInt8]
                switch HostIndex.normalize(host) {
                case .success(let bytes): normalised = bytes
                case .failure(let problem):
                    throw .invalidHost(service: name, host: host, reason: problem.rawValue)
                }
                if let owner = hostOwners[normalised] {
                    throw .duplicateHost(host: String(decoding: normalised, as: UTF8.self),
                                         firstService: owner, secondService: name)
                }
                hostOwners[normalised] = name
                hosts.append((normalised, serviceIndex))
                normalisedHosts.append(String(decoding: normalised, as: UTF8.self))
            }

            guard !service.baseline.isEmpty else { throw .noBaselineEndpoints(service: name) }
            try validateEndpoints(service.baseline, service: name, routingKey: nil)
            let baselineID = destinations.count
            destinations.append(Destination(id: baselineID, kind: .baseline, name: name,
                                            serviceIndex: serviceIndex, endpoints: service.baseline,
                                            routingKey: nil, fallbackDestination: nil,
                                            upstreamProtocol: service.upstreamProtocol))

            var keys: Set<String> = []
            for route in service.routes {
                let key = route.routingKey
                guard RoutingKeyAlphabet.isValidKey(key.utf8) else {
                    throw .invalidRoutingKey(service: name, key: key)
                }
                guard keys.insert(key).inserted else { throw .duplicateRoutingKey(service: name, key: key) }
                guard !route.sandbox.isEmpty else { throw .emptySandboxName(service: name, key: key) }
                guard !route.endpoints.isEmpty else { throw .noRouteEndpoints(service: name, key: key) }
                try validateEndpoints(route.endpoints, service: name, routingKey: key)
                let id = destinations.count
                destinations.append(Destination(
                    id: id, kind: .sandbox, name: route.sandbox, serviceIndex: serviceIndex,
                    endpoints: route.endpoints, routingKey: key,
                    fallbackDestination: route.fallback == .baseline ? baselineID : nil,
                    upstreamProtocol: route.upstreamProtocol ?? service.upstreamProtocol))
                routes.append((Array(key.utf8), UInt32(serviceIndex), UInt32(id)))
            }
            services.append(RouteTable.Service(name: name, hosts: normalisedHosts, baselineDestination: baselineID,
                                               routeDestinations: baselineID + 1..<destinations.count))
        }

        return RouteTable(version: version, spec: spec, destinations: destinations, services: services,
                          defaultService: defaultService,
                          hostIndex: HostIndex(hosts: hosts, defaultService: defaultService),
                          routeIndex: FlatKeyTable(routes, matching: .exact))
    }

    private static func validateCarriers(_ carriers: CarrierSpec) throws(RouteTableError) {
        for (what, names) in [("key names", carriers.keyNames), ("custom headers", carriers.customHeaders)]
        where names.count > maxCarrierNames {
            throw .tooManyCarrierNames(what: what, count: names.count, limit: maxCarrierNames)
        }
        var seen: Set<String> = []
        for name in carriers.keyNames {
            guard isToken(name) else { throw .invalidCarrierKeyName(name) }
            guard seen.insert(name).inserted else { throw .duplicateCarrierKeyName(name) }
        }
        seen = []
        for name in carriers.customHeaders {
            guard isToken(name) else { throw .invalidCustomHeader(name) }
            // Header names are case-insensitive, so `X-Sandbox` and `x-sandbox` are one header.
            guard seen.insert(String(decoding: name.utf8.map(ASCII.lower), as: UTF8.self)).inserted
            else { throw .duplicateCustomHeader(name) }
        }
    }

    private static func validateEndpoints(_ endpoints: [EndpointSpec], service: String,
                                          routingKey: String?) throws(RouteTableError) {
        for endpoint in endpoints {
            let problem: String?
            if endpoint.port == 0 {
                problem = "port must be 1-65535"
            } else if endpoint.host.isEmpty {
                problem = "host is empty"
            } else if endpoint.host.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
                problem = "host contains whitespace or a control character"
            } else {
                problem = nil
            }
            if let problem {
                throw .invalidEndpoint(service: service, routingKey: routingKey,
                                       endpoint: endpoint.description, reason: problem)
            }
        }
    }

    /// RFC 9110 §5.6.2: `token = 1*tchar`.
    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(ASCII.isTokenChar)
    }
}

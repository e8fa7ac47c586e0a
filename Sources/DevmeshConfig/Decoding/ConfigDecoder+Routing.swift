import DevmeshRouting

/// The `routing:` and `services:` sections: where keys are looked for, and where requests go.
extension ConfigDecoder {
    /// Headers whose value is a list of members, not a key: naming one as a custom header
    /// would treat `k1=v1,sd-routing-key=...` as a routing key that can never match.
    private static let structuredCarriers: Set<String> = ["baggage", "tracestate", "traceparent", "jaeger-baggage"]

    func decodeCarriers(_ value: YAMLValue) -> CarrierSpec {
        var carriers = CarrierSpec()
        guard let map = value.mapping(diagnostics, schema: Schema.routing) else { return carriers }
        let keyNamesValue = map.optional("key_names", diagnostics)
        if let list = keyNamesValue {
            carriers.keyNames = names(list, of: "key names") { text throws(SyntaxProblem) in
                try NameSyntax.keyName(text)
            }
        }
        if let list = map.optional("custom_headers", diagnostics) {
            carriers.customHeaders = names(list, of: "header names") { text throws(SyntaxProblem) in
                let name = try NameSyntax.headerName(text)
                if Self.structuredCarriers.contains(name) {
                    throw SyntaxProblem("'\(name)' is already a built-in carrier; "
                                        + "custom_headers are headers whose whole value is the key")
                }
                return name
            }
        }
        // Only an explicitly empty key_names can leave no carrier: when names were given but
        // are all bad, each was already reported.
        let keyNamesGivenEmpty: Bool
        if let list = keyNamesValue, case .sequence(let items) = list.node {
            keyNamesGivenEmpty = items.isEmpty
        } else {
            keyNamesGivenEmpty = false
        }
        if keyNamesGivenEmpty && carriers.customHeaders.isEmpty {
            diagnostics.report("key_names is empty and there are no custom_headers: "
                               + "no request could carry a routing key", at: value.location)
        }
        return carriers
    }

    /// A service's `workload:` (and `workload_port:`), resolved against its baseline.
    struct ServiceWorkload {
        var subscription: WorkloadSubscription
        var location: Location
    }

    func decodeServices(_ value: YAMLValue, workloads: inout [ServiceWorkload]) -> [ServiceSpec]? {
        guard let items = value.list(diagnostics, of: "services") else { return nil }
        if items.isEmpty {
            diagnostics.report("needs at least one service", at: value.location)
            return nil
        }
        var names = FirstSeen<String>()
        var hosts = FirstSeen<String>()
        var defaultService: Location?
        var services: [ServiceSpec] = []
        for item in items {
            guard let service = decodeService(item) else { continue }
            if let workload = service.workload { workloads.append(workload) }
            if let nameValue = service.nameValue,
               let note = names.repeatNote(service.spec.name, at: nameValue.location) {
                diagnostics.report("duplicate service name '\(service.spec.name)'\(note)", at: nameValue.location)
            }
            for (host, location) in service.hostLocations {
                if let note = hosts.repeatNote(host, at: location) {
                    diagnostics.report("host '\(host)' already selects another service\(note)", at: location)
                }
            }
            if service.spec.hosts.isEmpty {
                // Requests whose Host matches no service go to the default one; two defaults
                // would make that choice arbitrary.
                if let first = defaultService {
                    var place = first.path
                    if let line = first.line { place += ", line \(line)" }
                    diagnostics.report("a second service without hosts (\(place) is already the default "
                                       + "service); give one of them hosts", at: item.location)
                } else {
                    defaultService = item.location
                }
            }
            services.append(service.spec)
        }
        return services
    }

    /// A decoded service plus the locations its cross-service checks need.
    private struct DecodedService {
        var spec: ServiceSpec
        var nameValue: YAMLValue?
        var hostLocations: [(String, Location)]
        var workload: ServiceWorkload?
    }

    private func decodeService(_ value: YAMLValue) -> DecodedService? {
        guard let map = value.mapping(diagnostics, schema: Schema.service) else { return nil }
        let nameValue = map.required("name", diagnostics)
        let name = nameValue.flatMap { scalar($0, expecting: "a name", NameSyntax.serviceName) }

        var hostLocations: [(String, Location)] = []
        if let list = map.optional("hosts", diagnostics), let items = list.list(diagnostics, of: "host names") {
            if items.isEmpty {
                diagnostics.report("is empty: omit hosts for the default service", at: list.location)
            }
            var seen = FirstSeen<String>()
            for item in items {
                guard let host = scalar(item, expecting: "a host name", AddressSyntax.serviceHost) else { continue }
                if let note = seen.repeatNote(host, at: item.location) {
                    diagnostics.report("duplicate host '\(host)'\(note)", at: item.location)
                    continue
                }
                hostLocations.append((host, item.location))
            }
        }
        let baseline = map.required("baseline", diagnostics).flatMap(endpoints)

        var routes: [RouteSpec] = []
        if let list = map.optional("routes", diagnostics), let items = list.list(diagnostics, of: "routes") {
            var keys = FirstSeen<String>()
            for item in items {
                guard let (route, keyValue) = decodeRoute(item) else { continue }
                if let note = keys.repeatNote(route.routingKey, at: keyValue.location) {
                    diagnostics.report("duplicate routing key '\(route.routingKey)' in this service\(note)",
                                       at: keyValue.location)
                }
                routes.append(route)
            }
        }
        let upstreamProtocol = map.optional("protocol", diagnostics).flatMap(decodeProtocol) ?? .auto
        let workloadValue = map.optional("workload", diagnostics)
        let workload = workloadValue.flatMap { scalar($0, expecting: "KIND/NAMESPACE/NAME", NameSyntax.workload) }
        var workloadPort: UInt16?
        if let value = map.optional("workload_port", diagnostics) {
            if workloadValue == nil {
                diagnostics.report("workload_port needs a workload", at: value.location)
            }
            workloadPort = scalar(value, expecting: "a port") { text throws(SyntaxProblem) in
                try AddressSyntax.parsePort(Substring(text), allowZero: false)
            }
        }
        guard let name, let baseline else { return nil }
        var subscription: ServiceWorkload?
        if let workload, let workloadValue {
            // The workload port of a rule is the port the baseline listens on, unless told.
            subscription = ServiceWorkload(
                subscription: WorkloadSubscription(service: name, kind: workload.kind, namespace: workload.namespace,
                                                   name: workload.name, port: workloadPort ?? baseline[0].port),
                location: workloadValue.location)
        }
        return DecodedService(spec: ServiceSpec(name: name, hosts: hostLocations.map(\.0),
                                                baseline: baseline, routes: routes,
                                                upstreamProtocol: upstreamProtocol),
                              nameValue: nameValue, hostLocations: hostLocations, workload: subscription)
    }

    private func decodeRoute(_ value: YAMLValue) -> (RouteSpec, YAMLValue)? {
        guard let map = value.mapping(diagnostics, schema: Schema.route) else { return nil }
        let keyValue = map.required("key", diagnostics)
        let key = keyValue.flatMap { scalar($0, expecting: "a routing key", NameSyntax.routingKey) }
        var sandbox: String?
        if let item = map.optional("sandbox", diagnostics) {
            sandbox = scalar(item, expecting: "a sandbox name", NameSyntax.sandboxName)
        }
        let targets = map.required("endpoints", diagnostics).flatMap(endpoints)
        var fallback = FallbackPolicy.fail
        if let item = map.optional("fallback", diagnostics) {
            fallback = scalar(item, expecting: "fail or baseline") { text throws(SyntaxProblem) in
                guard let policy = FallbackPolicy(rawValue: text) else {
                    throw SyntaxProblem("expected fail or baseline, got '\(text)'")
                }
                return policy
            } ?? .fail
        }
        let upstreamProtocol = map.optional("protocol", diagnostics).flatMap(decodeProtocol)
        guard let key, let keyValue, let targets else { return nil }
        return (RouteSpec(routingKey: key, sandbox: sandbox, endpoints: targets, fallback: fallback,
                          upstreamProtocol: upstreamProtocol), keyValue)
    }

    /// `protocol: auto | http1 | h2c`.
    private func decodeProtocol(_ value: YAMLValue) -> UpstreamProtocol? {
        scalar(value, expecting: "auto, http1 or h2c") { text throws(SyntaxProblem) in
            guard let parsed = UpstreamProtocol(rawValue: text) else {
                throw SyntaxProblem("expected auto, http1 or h2c, got '\(text)'")
            }
            return parsed
        }
    }

    /// A non-empty list of distinct endpoints. A repeated endpoint is rejected rather than
    /// read as a weight: round robin over duplicates is an accident more often than a plan.
    private func endpoints(_ value: YAMLValue) -> [EndpointSpec]? {
        guard let items = value.list(diagnostics, of: "HOST:PORT endpoints") else { return nil }
        if items.isEmpty {
            diagnostics.report("needs at least one HOST:PORT endpoint", at: value.location)
            return nil
        }
        var seen = FirstSeen<EndpointSpec>()
        var result: [EndpointSpec] = []
        for item in items {
            guard let endpoint = scalar(item, expecting: "HOST:PORT", AddressSyntax.endpoint) else { continue }
            if let note = seen.repeatNote(endpoint, at: item.location) {
                diagnostics.report("duplicate endpoint \(endpoint)\(note)", at: item.location)
                continue
            }
            result.append(endpoint)
        }
        return result.count == items.count ? result : nil
    }

    /// A list of distinct names, each checked by `parse`.
    private func names(_ value: YAMLValue, of what: String,
                       _ parse: (String) throws(SyntaxProblem) -> String) -> [String] {
        guard let items = value.list(diagnostics, of: what) else { return [] }
        var seen = FirstSeen<String>()
        var result: [String] = []
        for item in items {
            guard let name = scalar(item, expecting: "a name", parse) else { continue }
            if let note = seen.repeatNote(name, at: item.location) {
                diagnostics.report("duplicate '\(name)'\(note)", at: item.location)
                continue
            }
            result.append(name)
        }
        return result
    }

    /// Reads a scalar and runs one syntax parser over it, reporting either failure.
    func scalar<T>(_ value: YAMLValue, expecting what: String,
                   _ parse: (String) throws(SyntaxProblem) -> T) -> T? {
        guard let text = value.scalar(diagnostics, expecting: what) else { return nil }
        do {
            return try parse(text)
        } catch {
            diagnostics.report(error, at: value.location)
            return nil
        }
    }
}

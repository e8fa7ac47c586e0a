/// The JSON forms of the Routes API messages: the HTTP twin's bodies (routes-api.md §5).
///
/// Writing: every field of the §5 shapes is written, defaults included (the OpenAPI document
/// marks `routingKey`, `baseline`, `destinationSandbox`, `workloadPort`, `host` and `port`
/// required; `mappings` and `destinations` are written as arrays even when empty so clients
/// never meet a missing list). Reading: see `JSONMappable`.

extension BaselineWorkload: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(kind: try fields.string("kind"), namespace: try fields.string("namespace"),
                  name: try fields.string("name"))
    }

    public var json: JSONValue {
        ["kind": .string(kind), "namespace": .string(namespace), "name": .string(name)]
    }
}

extension DestinationSandbox: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(name: try fields.string("name"))
    }

    public var json: JSONValue { ["name": .string(name)] }
}

extension Location: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(host: try fields.string("host"), port: try fields.uint32("port"))
    }

    public var json: JSONValue { ["host": .string(host), "port": .number(Double(port))] }
}

extension WorkloadPortMapping: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(workloadPort: try fields.uint32("workloadPort", "workload_port"),
                  destinations: try fields.repeated("destinations"))
    }

    public var json: JSONValue {
        ["workloadPort": .number(Double(workloadPort)), "destinations": .array(destinations.map(\.json))]
    }
}

extension WorkloadRoutingRule: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(routingKey: try fields.string("routingKey", "routing_key"),
                  baseline: try fields.message("baseline"),
                  destinationSandbox: try fields.message("destinationSandbox", "destination_sandbox"),
                  mappings: try fields.repeated("mappings"))
    }

    public var json: JSONValue {
        ["routingKey": .string(routingKey),
         "baseline": (baseline ?? BaselineWorkload()).json,
         "destinationSandbox": (destinationSandbox ?? DestinationSandbox()).json,
         "mappings": .array(mappings.map(\.json))]
    }
}

extension GetWorkloadRoutingRulesResponse: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(routingRules: try fields.repeated("routingRules"))
    }

    public var json: JSONValue { ["routingRules": .array(routingRules.map(\.json))] }
}

extension WorkloadRoutingRulesRequest: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(baselineWorkload: try fields.message("baselineWorkload", "baseline_workload"),
                  routingKey: try fields.string("routingKey", "routing_key"),
                  destinationSandbox: try fields.message("destinationSandbox", "destination_sandbox"))
    }

    /// Only the filters that are set.
    public var json: JSONValue {
        var object = JSONObject()
        if let baselineWorkload { object.set("baselineWorkload", baselineWorkload.json) }
        if !routingKey.isEmpty { object.set("routingKey", .string(routingKey)) }
        if let destinationSandbox { object.set("destinationSandbox", destinationSandbox.json) }
        return .object(object)
    }
}

extension WorkloadRoutingRuleOp: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(op: try fields.watchOp("op"), route: try fields.message("route"))
    }

    /// `op` by name (by number when routes.proto does not define it); `route` when present.
    public var json: JSONValue {
        var object = JSONObject()
        object.set("op", op.name.map(JSONValue.string) ?? .number(Double(op.rawValue)))
        if let route { object.set("route", route.json) }
        return .object(object)
    }
}

extension GetClusterServicesRequest: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        _ = try JSONFields(json, path: path)
        self.init()
    }

    public var json: JSONValue { .object(JSONObject()) }
}

extension GetClusterServicesResponse: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(services: try fields.repeated("services"))
    }

    public var json: JSONValue { ["services": .array(services.map(\.json))] }
}

extension ClusterService: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(serviceIP: try fields.string("serviceIp", "service_ip"), hostname: try fields.string("hostname"),
                  ports: try fields.repeated("ports"), sandboxInfo: try fields.message("sandboxInfo", "sandbox_info"))
    }

    public var json: JSONValue {
        var object = JSONObject(["serviceIp": .string(serviceIP), "hostname": .string(hostname),
                                 "ports": .array(ports.map(\.json))])
        if let sandboxInfo { object.set("sandboxInfo", sandboxInfo.json) }
        return .object(object)
    }
}

extension ClusterServicePort: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(name: try fields.string("name"), port: try fields.uint32("port"),
                  protocol: try fields.string("protocol"), appProtocol: try fields.string("appProtocol", "app_protocol"))
    }

    public var json: JSONValue {
        ["name": .string(name), "port": .number(Double(port)), "protocol": .string(`protocol`),
         "appProtocol": .string(appProtocol)]
    }
}

extension SandboxedClusterService: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        self.init(sandboxRoutingKey: try fields.string("sandboxRoutingKey", "sandbox_routing_key"),
                  baselineHostname: try fields.string("baselineHostname", "baseline_hostname"))
    }

    public var json: JSONValue {
        ["sandboxRoutingKey": .string(sandboxRoutingKey), "baselineHostname": .string(baselineHostname)]
    }
}

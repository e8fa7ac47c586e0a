/// The query string of the HTTP twin, `GET /api/v1/workloads/routing-rules` (routes-api.md §5):
/// the filters of `WorkloadRoutingRulesRequest` as flat parameters.
extension WorkloadRoutingRulesRequest {
    /// The parameter names, in the order they are written.
    public static let queryParameterNames = ["baselineKind", "baselineNamespace", "baselineName", "routingKey",
                                             "destinationSandboxName"]

    /// Reads the filters from decoded query parameters. Unknown parameters are ignored
    /// (`enableVirtualWorkloads` and whatever the published API adds later); an empty value is
    /// no filter.
    public init(queryItems: [(name: String, value: String)]) {
        self.init()
        var baseline = BaselineWorkload()
        var hasBaseline = false
        for item in queryItems where !item.value.isEmpty {
            switch item.name {
            case "baselineKind": baseline.kind = item.value; hasBaseline = true
            case "baselineNamespace": baseline.namespace = item.value; hasBaseline = true
            case "baselineName": baseline.name = item.value; hasBaseline = true
            case "routingKey": routingKey = item.value
            case "destinationSandboxName": destinationSandbox = DestinationSandbox(name: item.value)
            default: break
            }
        }
        if hasBaseline { baselineWorkload = baseline }
    }

    /// The filters that are set, as query parameters (not yet percent-encoded).
    public var queryItems: [(name: String, value: String)] {
        var items: [(name: String, value: String)] = []
        if let baseline = baselineWorkload {
            if !baseline.kind.isEmpty { items.append(("baselineKind", baseline.kind)) }
            if !baseline.namespace.isEmpty { items.append(("baselineNamespace", baseline.namespace)) }
            if !baseline.name.isEmpty { items.append(("baselineName", baseline.name)) }
        }
        if !routingKey.isEmpty { items.append(("routingKey", routingKey)) }
        if let sandbox = destinationSandbox, !sandbox.name.isEmpty {
            items.append(("destinationSandboxName", sandbox.name))
        }
        return items
    }
}

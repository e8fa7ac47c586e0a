import DevmeshRoutesAPI

/// Checks a sandbox or route-group spec before anything is stored. Stops at the first problem
/// and names its JSON path, so a client can fix one thing at a time.
public enum SpecValidation {
    public static func validate(_ spec: SandboxSpec, limits: AgentLimits) throws(AgentError) {
        try check(Syntax.dnsLabelProblem(spec.name), "name", prefix: "sandbox name \"\(spec.name)\"")
        if let key = spec.routingKey {
            try check(Syntax.routingKeyProblem(key), "routingKey", prefix: "routing key \"\(key)\"")
        }
        try validateLabels(spec.labels, field: "labels", limits: limits, allowStar: false)
        guard !spec.forks.isEmpty else {
            throw .invalid("forks", "a sandbox needs at least one fork (the baseline workload it replaces)")
        }
        guard spec.forks.count <= limits.maxForksPerSandbox else {
            throw .invalid("forks", "at most \(limits.maxForksPerSandbox) forks per sandbox")
        }
        var seenWorkloads = Set<BaselineWorkload>()
        for (index, fork) in spec.forks.enumerated() {
            let field = "forks[\(index)]"
            try validate(fork, field: field, limits: limits)
            guard seenWorkloads.insert(fork.forkOf).inserted else {
                throw .invalid("\(field).forkOf", "\(describe(fork.forkOf)) is forked twice; list it once with all its ports")
            }
        }
    }

    static func validate(_ fork: Fork, field: String, limits: AgentLimits) throws(AgentError) {
        let workload = fork.forkOf
        if let problem = Syntax.workloadKindProblem(workload.kind) { throw .invalid("\(field).forkOf.kind", problem) }
        try check(Syntax.dnsLabelProblem(workload.namespace), "\(field).forkOf.namespace",
                  prefix: "namespace \"\(workload.namespace)\"")
        try check(Syntax.dnsSubdomainProblem(workload.name), "\(field).forkOf.name",
                  prefix: "workload name \"\(workload.name)\"")
        guard fork.ports.count <= limits.maxPortsPerFork else {
            throw .invalid("\(field).ports", "at most \(limits.maxPortsPerFork) ports per fork")
        }
        var seenPorts = Set<UInt32>()
        for (index, mapping) in fork.ports.enumerated() {
            let portField = "\(field).ports[\(index)]"
            try check(Syntax.portProblem(mapping.workloadPort), "\(portField).workloadPort", prefix: "workload port")
            guard seenPorts.insert(mapping.workloadPort).inserted else {
                throw .invalid("\(portField).workloadPort",
                               "port \(mapping.workloadPort) is listed twice; give it once with all its destinations")
            }
            guard !mapping.destinations.isEmpty else {
                throw .invalid("\(portField).destinations",
                               "port \(mapping.workloadPort) needs at least one destination host:port")
            }
            guard mapping.destinations.count <= limits.maxDestinationsPerPort else {
                throw .invalid("\(portField).destinations", "at most \(limits.maxDestinationsPerPort) destinations per port")
            }
            var seenDestinations = Set<Location>()
            for (position, destination) in mapping.destinations.enumerated() {
                let destinationField = "\(portField).destinations[\(position)]"
                if let problem = Syntax.hostProblem(destination.host) { throw .invalid("\(destinationField).host", problem) }
                try check(Syntax.portProblem(destination.port), "\(destinationField).port", prefix: "destination port")
                guard seenDestinations.insert(destination).inserted else {
                    throw .invalid(destinationField, "\(destination.host):\(destination.port) is listed twice")
                }
            }
        }
    }

    public static func validate(_ spec: RouteGroupSpec, limits: AgentLimits) throws(AgentError) {
        try check(Syntax.dnsLabelProblem(spec.name), "name", prefix: "route group name \"\(spec.name)\"")
        if let key = spec.routingKey {
            try check(Syntax.routingKeyProblem(key), "routingKey", prefix: "routing key \"\(key)\"")
        }
        guard !spec.match.isEmpty else {
            throw .invalid("match", "a route group must match something: list sandbox names in match.sandboxes "
                           + "or labels in match.labels")
        }
        guard spec.match.sandboxes.count <= limits.maxGroupSandboxNames else {
            throw .invalid("match.sandboxes", "at most \(limits.maxGroupSandboxNames) sandbox names")
        }
        for (index, name) in spec.match.sandboxes.enumerated() {
            try check(Syntax.dnsLabelProblem(name), "match.sandboxes[\(index)]", prefix: "sandbox name \"\(name)\"")
        }
        try validateLabels(spec.match.labels, field: "match.labels", limits: limits, allowStar: true)
    }

    static func validateLabels(_ labels: [String: String], field: String, limits: AgentLimits,
                               allowStar: Bool) throws(AgentError) {
        guard labels.count <= limits.maxLabels else { throw .invalid(field, "at most \(limits.maxLabels) labels") }
        for key in labels.keys.sorted() {
            try check(Syntax.labelKeyProblem(key), "\(field).\(key)", prefix: "label key \"\(key)\"")
            try check(Syntax.labelValueProblem(labels[key]!, allowStar: allowStar), "\(field).\(key)",
                      prefix: "label value \"\(labels[key]!)\"")
        }
    }

    static func describe(_ workload: BaselineWorkload) -> String {
        "\(workload.kind)/\(workload.namespace)/\(workload.name)"
    }

    private static func check(_ problem: String?, _ field: String, prefix: String) throws(AgentError) {
        if let problem { throw .invalid(field, "\(prefix) \(problem)") }
    }
}

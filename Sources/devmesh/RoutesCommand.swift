import ArgumentParser
import DevmeshAgent
import DevmeshRoutesAPI

/// `devmesh routes`: the routing rules the agent serves, read through the HTTP twin of the
/// Routes API (`GET /api/v1/workloads/routing-rules`).
struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Print the routing rules the agent serves (the Routes API's view).",
        discussion: """
            devmesh routes
            devmesh routes --workload Deployment/hotrod/route
            devmesh routes --routing-key 4835rlwxwbwyl --json

            --watch will follow the gRPC WatchWorkloadRoutingRules stream once the agent serves
            gRPC; until then it is refused (exit 64).
            """
    )

    @Option(help: "Only rules for this baseline workload, KIND/NAMESPACE/NAME.")
    var workload: String?
    @Option(name: .customLong("routing-key"), help: "Only rules for this routing key.")
    var routingKey: String?
    @Option(help: "Only rules whose destination is this sandbox.")
    var sandbox: String?
    @Flag(help: "Follow changes as they happen (needs the gRPC watch: not available yet).")
    var watch = false
    @OptionGroup var options: AgentClientOptions

    func validate() throws {
        if watch {
            throw ValidationError("--watch is not available yet: it follows the gRPC WatchWorkloadRoutingRules stream, "
                                  + "which the agent does not serve yet. Run `devmesh routes` again to poll instead.")
        }
    }

    func run() throws {
        var filter = WorkloadRoutingRulesRequest()
        if let workload { filter.baselineWorkload = try CLIParse.workload(workload, flag: "--workload") }
        if let routingKey { filter.routingKey = routingKey }
        if let sandbox { filter.destinationSandbox = DestinationSandbox(name: sandbox) }
        let query = filter.queryItems.map { "\(RequestTarget.percentEncode($0.name))=\(RequestTarget.percentEncode($0.value))" }
        let path = "/api/v1/workloads/routing-rules" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let reply = try options.call("GET", path, expected: [200])
        if options.json { return CLIOutput.printJSON(reply.body ?? .null) }
        let rules = reply.body?.objectValue?["routingRules"]?.arrayValue ?? []
        if rules.isEmpty { return print("no routing rules") }
        CLIOutput.printTable(["ROUTING KEY", "WORKLOAD", "SANDBOX", "PORTS"], rules.map { value in
            let rule = value.objectValue
            return [rule?["routingKey"]?.stringValue ?? "?", CLIOutput.workload(rule?["baseline"]),
                    rule?["destinationSandbox"]?.objectValue?["name"]?.stringValue ?? "?",
                    CLIOutput.ports(rule?["mappings"])]
        })
    }
}

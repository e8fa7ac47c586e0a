import ArgumentParser
import DevmeshAgent
import DevmeshGRPC
import DevmeshIO
import DevmeshRoutesAPI
import Glibc

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

            devmesh routes --workload Deployment/hotrod/route --watch

            --watch follows the agent's gRPC WatchWorkloadRoutingRules stream (--agent-grpc,
            default $DEVMESH_AGENT_GRPC or 127.0.0.1:7777): the current rules as ADD, one SYNCED,
            then every change, one line each (JSON lines with --json), until interrupted.
            """
    )

    @Option(help: "Only rules for this baseline workload, KIND/NAMESPACE/NAME.")
    var workload: String?
    @Option(name: .customLong("routing-key"), help: "Only rules for this routing key.")
    var routingKey: String?
    @Option(help: "Only rules whose destination is this sandbox.")
    var sandbox: String?
    @Flag(help: "Follow changes as they happen (the gRPC watch stream).")
    var watch = false
    @Option(name: .customLong("agent-grpc"),
            help: "The agent's gRPC address for --watch (default: $DEVMESH_AGENT_GRPC or 127.0.0.1:7777).")
    var agentGRPC: String?
    @OptionGroup var options: AgentClientOptions

    func run() throws {
        var filter = WorkloadRoutingRulesRequest()
        if let workload { filter.baselineWorkload = try CLIParse.workload(workload, flag: "--workload") }
        if let routingKey { filter.routingKey = routingKey }
        if let sandbox { filter.destinationSandbox = DestinationSandbox(name: sandbox) }
        if watch { return try follow(filter) }
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

extension RoutesCommand {
    /// Prints the watch stream until it ends (exit 3: the agent ended or dropped it) or SIGINT.
    private func follow(_ filter: WorkloadRoutingRulesRequest) throws {
        let text = agentGRPC ?? environment("DEVMESH_AGENT_GRPC") ?? "127.0.0.1:7777"
        let address: SocketAddress
        do {
            address = try SocketAddress.parse(text)
        } catch {
            throw ValidationError("--agent-grpc: \(error)")
        }
        Signals.ignorePipe()
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            CLIOutput.error("cannot create an event loop: \(error)")
            throw CLIExit.unavailable
        }
        let printer = WatchPrinter(json: options.json, loop: loop)
        let call = GRPCClientCall(loop: loop, buffers: BufferPool(largeSize: 16 * 1024), address: address,
                                  authority: text, path: "/routes.Routes/WatchWorkloadRoutingRules",
                                  request: filter.serializedBytes(), delegate: printer)
        loop.run()
        withExtendedLifetime(call) {}
        CLIOutput.error("the watch ended: \(printer.endMessage)")
        throw CLIExit.unavailable
    }

    private func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

/// Prints each op of the watch stream as it arrives.
private final class WatchPrinter: GRPCClientCallDelegate {
    let json: Bool
    let loop: EventLoop
    var endMessage = ""

    init(json: Bool, loop: EventLoop) {
        self.json = json
        self.loop = loop
    }

    func grpcCall(_ call: GRPCClientCall, received message: [UInt8]) {
        guard let op = try? WorkloadRoutingRuleOp(serializedBytes: message) else {
            print("(undecodable op of \(message.count) bytes)")
            return
        }
        if json {
            CLIOutput.printJSON(op.json)
        } else if op.op == .synced {
            print("SYNCED")
        } else if let rule = op.route {
            let workload = rule.baseline.map { "\($0.kind)/\($0.namespace)/\($0.name)" } ?? "?"
            let ports = rule.mappings.map { mapping in
                "\(mapping.workloadPort)=" + mapping.destinations.map { "\($0.host):\($0.port)" }.joined(separator: ",")
            }.joined(separator: " ")
            print("\(op.op.description.padding(toLength: 8, withPad: " ", startingAt: 0))\(rule.routingKey)  "
                  + "\(workload)  \(rule.destinationSandbox?.name ?? "?")  \(ports)")
        }
        fflush(nil)
    }

    func grpcCall(_ call: GRPCClientCall, finishedWith status: Int, message: String) {
        endMessage = "grpc-status \(status)" + (message.isEmpty ? "" : ": \(message)")
        loop.stop()
    }
}

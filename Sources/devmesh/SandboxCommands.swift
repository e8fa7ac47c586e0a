import ArgumentParser
import DevmeshAgent
import DevmeshRoutesAPI

/// `devmesh sandbox create | list | get | delete`: the agent's sandboxes over its REST API.
struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Create, list, show and delete sandboxes on the agent.",
        discussion: """
            Exit status: 0 done, 1 the agent refused the request (the message says what to fix),
            2 no such sandbox, 3 the agent is unreachable or failed, 64 bad command line.
            """,
        subcommands: [Create.self, List.self, Get.self, Delete.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a sandbox and print its routing key and the header to send.",
            discussion: """
                devmesh sandbox create feature-x --fork Deployment/hotrod/route \\
                    --port 8083=route-feature-x.hotrod.svc:8083

                With several forks, prefix each port with its workload's name:
                    --fork Deployment/hotrod/route --fork Deployment/hotrod/driver \\
                    --port route:8083=route-x.hotrod.svc:8083 --port driver:8082=driver-x.hotrod.svc:8082

                A port may list several destinations (HOST:PORT,HOST:PORT) or be repeated.
                --from-file takes the REST API's JSON body instead (see docs/agent.md).
                """
        )

        @Argument(help: "Sandbox name (DNS-1123 label: lower-case letters, digits, '-').")
        var name: String?
        @Option(help: "A baseline workload to fork, KIND/NAMESPACE/NAME (repeatable).")
        var fork: [String] = []
        @Option(help: "[WORKLOAD:]PORT=HOST:PORT[,HOST:PORT...]: where a workload port is served (repeatable).")
        var port: [String] = []
        @Option(name: .customLong("routing-key"), help: "Use this routing key instead of a generated one.")
        var routingKey: String?
        @Option(help: "A label, KEY=VALUE, that route groups can match (repeatable).")
        var label: [String] = []
        @Option(name: .customLong("from-file"), help: "Read the sandbox as JSON from a file ('-' for stdin).")
        var fromFile: String?
        @Flag(name: .shortAndLong, help: "Print only the routing key.")
        var quiet = false
        @OptionGroup var options: AgentClientOptions

        func run() throws {
            let body = try requestBody()
            let reply = try options.call("POST", "/api/v1/sandboxes", body: body, expected: [201])
            let sandbox = reply.body?.objectValue
            let key = sandbox?["routingKey"]?.stringValue ?? "?"
            if options.json {
                CLIOutput.printJSON(reply.body ?? .null)
            } else if quiet {
                print(key)
            } else {
                print("sandbox \(sandbox?["name"]?.stringValue ?? "?") created")
                print("routing key:  \(key)")
                print("send header:  \(sandbox?["routingHeader"]?.stringValue ?? "baggage: sd-routing-key=\(key)")")
            }
        }

        func requestBody() throws -> JSONValue {
            if let fromFile {
                guard fork.isEmpty, port.isEmpty, label.isEmpty, routingKey == nil else {
                    throw ValidationError("--from-file replaces --fork, --port, --label and --routing-key; use one or the other")
                }
                var value = try CLIParse.jsonFile(fromFile)
                if let name, case .object(var object) = value {
                    object.set("name", .string(name))
                    value = .object(object)
                }
                return value
            }
            guard let name else { throw ValidationError("give the sandbox a name: devmesh sandbox create NAME --fork ...") }
            guard !fork.isEmpty else {
                throw ValidationError("give at least one --fork KIND/NAMESPACE/NAME (the baseline workload this sandbox replaces)")
            }
            var forks = try fork.map { Fork(forkOf: try CLIParse.workload($0, flag: "--fork")) }
            for item in port {
                let (workload, number, destinations) = try CLIParse.port(item)
                let index: Int
                if let workload {
                    let matches = forks.indices.filter { forks[$0].forkOf.name == workload }
                    guard matches.count == 1 else {
                        throw ValidationError("--port \(item): \(matches.isEmpty ? "no" : "more than one") --fork names a "
                                              + "workload \"\(workload)\"")
                    }
                    index = matches[0]
                } else {
                    guard forks.count == 1 else {
                        throw ValidationError("--port \(item): with several --fork, write WORKLOAD:PORT=HOST:PORT "
                                              + "to say which fork the port belongs to")
                    }
                    index = 0
                }
                // A repeated port adds destinations to the same mapping.
                if let existing = forks[index].ports.firstIndex(where: { $0.workloadPort == number }) {
                    forks[index].ports[existing].destinations += destinations
                } else {
                    forks[index].ports.append(WorkloadPortMapping(workloadPort: number, destinations: destinations))
                }
            }
            let spec = SandboxSpec(name: name, routingKey: routingKey, labels: try CLIParse.labels(label, flag: "--label"),
                                   forks: forks)
            return spec.json
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sandboxes.")

        @OptionGroup var options: AgentClientOptions

        func run() throws {
            let reply = try options.call("GET", "/api/v1/sandboxes", expected: [200])
            if options.json { return CLIOutput.printJSON(reply.body ?? .null) }
            let sandboxes = reply.body?.objectValue?["sandboxes"]?.arrayValue ?? []
            if sandboxes.isEmpty { return print("no sandboxes") }
            CLIOutput.printTable(["NAME", "ROUTING KEY", "FORKS", "AGE"], sandboxes.map { value in
                let sandbox = value.objectValue
                let forks = (sandbox?["forks"]?.arrayValue ?? []).map { CLIOutput.workload($0.objectValue?["forkOf"]) }
                return [sandbox?["name"]?.stringValue ?? "?", sandbox?["routingKey"]?.stringValue ?? "?",
                        forks.joined(separator: ","), CLIOutput.age(sandbox?["createdAt"])]
            })
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one sandbox.")

        @Argument(help: "Sandbox name.")
        var name: String
        @OptionGroup var options: AgentClientOptions

        func run() throws {
            let reply = try options.call("GET", "/api/v1/sandboxes/\(RequestTarget.percentEncode(name))", expected: [200])
            if options.json { return CLIOutput.printJSON(reply.body ?? .null) }
            let sandbox = reply.body?.objectValue
            print("name:         \(sandbox?["name"]?.stringValue ?? "?")")
            print("routing key:  \(sandbox?["routingKey"]?.stringValue ?? "?")")
            print("send header:  \(sandbox?["routingHeader"]?.stringValue ?? "?")")
            print("created:      \(sandbox?["created"]?.stringValue ?? "?")")
            let labels = sandbox?["labels"]?.objectValue?.members.map { "\($0.key)=\($0.value.stringValue ?? "")" } ?? []
            if !labels.isEmpty { print("labels:       \(labels.joined(separator: ", "))") }
            print("forks:")
            for fork in sandbox?["forks"]?.arrayValue ?? [] {
                print("  \(CLIOutput.workload(fork.objectValue?["forkOf"]))")
                for mapping in fork.objectValue?["ports"]?.arrayValue ?? [] {
                    print("    \(CLIOutput.ports(.array([mapping])))")
                }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete sandboxes.")

        @Argument(help: "Sandbox names.")
        var names: [String]
        @OptionGroup var options: AgentClientOptions

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("name at least one sandbox to delete") }
        }

        func run() throws {
            var failure: ExitCode?
            for name in names {
                do {
                    _ = try options.call("DELETE", "/api/v1/sandboxes/\(RequestTarget.percentEncode(name))", expected: [204])
                    if !options.json { print("sandbox \(name) deleted") }
                } catch let code as ExitCode {
                    failure = failure ?? code
                }
            }
            if let failure { throw failure }
        }
    }
}

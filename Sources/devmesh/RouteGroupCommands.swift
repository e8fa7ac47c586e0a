import ArgumentParser
import DevmeshAgent
import DevmeshRoutesAPI

/// `devmesh routegroup create | list | get | delete`.
struct RouteGroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routegroup",
        abstract: "Create, list, show and delete route groups: one routing key for several sandboxes.",
        discussion: """
            A route group matches sandboxes by name (--sandbox) or by labels (--match-label,
            where a value may use '*'). When two matched sandboxes fork the same workload, the
            one created first receives the group's traffic for it (see docs/agent.md).
            Exit status as for `devmesh sandbox`.
            """,
        subcommands: [Create.self, List.self, Get.self, Delete.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a route group and print its routing key.")

        @Argument(help: "Route group name (DNS-1123 label).")
        var name: String
        @Option(help: "A sandbox the group includes, by name (repeatable).")
        var sandbox: [String] = []
        @Option(name: .customLong("match-label"), help: "KEY=VALUE a sandbox must carry; '*' globs (repeatable).")
        var matchLabel: [String] = []
        @Option(name: .customLong("routing-key"), help: "Use this routing key instead of a generated one.")
        var routingKey: String?
        @Flag(name: .shortAndLong, help: "Print only the routing key.")
        var quiet = false
        @OptionGroup var options: AgentClientOptions

        func run() throws {
            guard !sandbox.isEmpty || !matchLabel.isEmpty else {
                throw ValidationError("say what the group matches: --sandbox NAME and/or --match-label KEY=VALUE")
            }
            let spec = RouteGroupSpec(name: name, routingKey: routingKey,
                                      match: RouteGroupMatch(sandboxes: sandbox,
                                                             labels: try CLIParse.labels(matchLabel, flag: "--match-label")))
            let reply = try options.call("POST", "/api/v1/routegroups", body: spec.json, expected: [201])
            let group = reply.body?.objectValue
            let key = group?["routingKey"]?.stringValue ?? "?"
            if options.json {
                CLIOutput.printJSON(reply.body ?? .null)
            } else if quiet {
                print(key)
            } else {
                print("route group \(name) created")
                print("routing key:  \(key)")
                print("send header:  \(group?["routingHeader"]?.stringValue ?? "?")")
                let matched = group?["matchedSandboxes"]?.arrayValue?.compactMap(\.stringValue) ?? []
                print("matches now:  \(matched.isEmpty ? "no sandbox yet" : matched.joined(separator: ", "))")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List route groups.")

        @OptionGroup var options: AgentClientOptions

        func run() throws {
            let reply = try options.call("GET", "/api/v1/routegroups", expected: [200])
            if options.json { return CLIOutput.printJSON(reply.body ?? .null) }
            let groups = reply.body?.objectValue?["routeGroups"]?.arrayValue ?? []
            if groups.isEmpty { return print("no route groups") }
            CLIOutput.printTable(["NAME", "ROUTING KEY", "SANDBOXES", "AGE"], groups.map { value in
                let group = value.objectValue
                let matched = group?["matchedSandboxes"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return [group?["name"]?.stringValue ?? "?", group?["routingKey"]?.stringValue ?? "?",
                        matched.isEmpty ? "-" : matched.joined(separator: ","), CLIOutput.age(group?["createdAt"])]
            })
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one route group and where it routes.")

        @Argument(help: "Route group name.")
        var name: String
        @OptionGroup var options: AgentClientOptions

        func run() throws {
            let reply = try options.call("GET", "/api/v1/routegroups/\(RequestTarget.percentEncode(name))", expected: [200])
            if options.json { return CLIOutput.printJSON(reply.body ?? .null) }
            let group = reply.body?.objectValue
            print("name:         \(group?["name"]?.stringValue ?? "?")")
            print("routing key:  \(group?["routingKey"]?.stringValue ?? "?")")
            print("send header:  \(group?["routingHeader"]?.stringValue ?? "?")")
            print("created:      \(group?["created"]?.stringValue ?? "?")")
            let match = group?["match"]?.objectValue
            let names = match?["sandboxes"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let labels = match?["labels"]?.objectValue?.members.map { "\($0.key)=\($0.value.stringValue ?? "")" } ?? []
            print("match:        sandboxes [\(names.joined(separator: ", "))] labels [\(labels.joined(separator: ", "))]")
            print("routes:")
            for route in group?["routes"]?.arrayValue ?? [] {
                let entry = route.objectValue
                let shadowed = entry?["shadowed"]?.arrayValue?.compactMap(\.stringValue) ?? []
                print("  \(CLIOutput.workload(entry?["workload"])) -> \(entry?["sandbox"]?.stringValue ?? "?")"
                      + (shadowed.isEmpty ? "" : " (shadows \(shadowed.joined(separator: ", ")))"))
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete route groups.")

        @Argument(help: "Route group names.")
        var names: [String]
        @OptionGroup var options: AgentClientOptions

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("name at least one route group to delete") }
        }

        func run() throws {
            var failure: ExitCode?
            for name in names {
                do {
                    _ = try options.call("DELETE", "/api/v1/routegroups/\(RequestTarget.percentEncode(name))", expected: [204])
                    if !options.json { print("route group \(name) deleted") }
                } catch let code as ExitCode {
                    failure = failure ?? code
                }
            }
            if let failure { throw failure }
        }
    }
}

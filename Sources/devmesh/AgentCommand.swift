import ArgumentParser
import DevmeshAgent
import DevmeshIO

/// `devmesh agent`: the control plane. Stores sandboxes and route groups durably and serves the
/// Routes API (HTTP/JSON now; gRPC later) plus the REST API the other subcommands use.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the agent: store sandboxes and route groups, serve the Routes API and the REST API.",
        discussion: """
            devmesh agent --data /var/lib/devmesh
            devmesh agent --data ./agent-data --http 127.0.0.1:7778 --grpc 127.0.0.1:7777

            Every acknowledged change is on disk (fsync'd) before the API answers, and survives
            kill -9. The gRPC port serves the Routes API (routes.Routes: Get and Watch); the HTTP
            port the REST API and the routing-rules twin. SIGTERM/SIGINT stop the agent. See
            docs/agent.md.
            """
    )

    @Option(help: "Directory for the agent's data (created if missing; one agent per directory).")
    var data: String
    @Option(help: "HTTP API address, ADDR:PORT (port 0 = any).")
    var http: String = "127.0.0.1:7778"
    @Option(help: "gRPC address, ADDR:PORT (port 0 = any).")
    var grpc: String = "127.0.0.1:7777"
    @Option(name: .customLong("watch-buffer"), help: "Ops a slow watcher may fall behind before it is disconnected.")
    var watchBuffer: Int = 4096

    func validate() throws {
        guard watchBuffer > 0 else { throw ValidationError("--watch-buffer must be at least 1") }
    }

    func run() throws {
        // Before any thread exists: only the loop's signalfd may see SIGTERM/SIGINT.
        do {
            try Signals.block(AgentServer.handledSignals)
        } catch {
            Log.error("cannot block signals: \(error)")
            throw ExitCode(1)
        }
        var options = AgentOptions(dataDirectory: data)
        options.httpAddress = http
        options.grpcAddress = grpc
        options.watchBuffer = watchBuffer
        let server: AgentServer
        do {
            server = try AgentServer(options: options)
        } catch {
            Log.error("\(error)")
            throw ExitCode(1)
        }
        let state = server.service.state
        let recovery = server.service.store.recovery
        Log.info("agent data in \(data): \(state.sandboxes.count) sandbox(es), \(state.routeGroups.count) "
                      + "route group(s) (replayed \(recovery.recordsReplayed) log record(s))")
        if recovery.bytesDiscarded > 0 {
            Log.warning("cut \(recovery.bytesDiscarded) byte(s) from the end of the log: a write that was not "
                             + "acknowledged (crash), or damage")
        }
        Log.info("agent http on \(server.httpAddress)")
        Log.info("agent grpc on \(server.grpcAddress)")
        let status = server.run()
        if status != 0 { throw ExitCode(status) }
    }
}

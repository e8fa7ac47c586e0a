import ArgumentParser
import DevmeshConfig
import DevmeshIO
import DevmeshProxy
import Glibc

/// The `devmesh` command: argument parsing and wiring only.
@main
struct Devmesh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devmesh",
        abstract: "An L7 routing proxy for sandboxed microservice testing.",
        version: DevmeshVersion.current,
        subcommands: [Proxy.self, Validate.self, Version.self,
                      AgentCommand.self, SandboxCommand.self, RouteGroupCommand.self, RoutesCommand.self]
    )
}

enum DevmeshVersion {
    static let current = "0.1.0"
}

struct Proxy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy: route each request to the baseline or a sandbox by its routing key.",
        discussion: """
            Quick start without a file:
              devmesh proxy --listen 127.0.0.1:8080 --baseline 127.0.0.1:9001 --route KEY=127.0.0.1:9002

            With a file (see config/ and docs/configuration.md):
              devmesh proxy --config config/sidecar.yaml

            SIGTERM/SIGINT drain (a second one exits at once); SIGHUP reloads the file.
            Binary upgrade: start the new devmesh with the same --handover-socket (or
            handover_socket) as the running one; it takes over the listening sockets and the
            old one drains.
            """
    )

    @Option(help: "YAML configuration file (reloaded on SIGHUP and when it changes).")
    var config: String?
    @Option(help: "Address to listen on, ADDR:PORT (repeatable; default 127.0.0.1:8080; port 0 = any).")
    var listen: [String] = []
    @Option(help: "Baseline endpoints, HOST:PORT[,HOST:PORT...].")
    var baseline: String?
    @Option(help: "A sandbox route, KEY=HOST:PORT[,HOST:PORT...] (repeatable).")
    var route: [String] = []
    @Option(help: "When a sandbox is unreachable: fail (502/503, the default) or baseline.")
    var fallback: String?
    @Option(name: .customLong("upstream-protocol"),
            help: "Protocol to the upstreams: auto (the request's own, the default), http1 or h2c.")
    var upstreamProtocol: String?
    @Option(help: "Follow routes from this Routes API server (devmesh agent), HOST:PORT (its gRPC port).")
    var agent: String?
    @Option(help: "With --agent: the baseline workload whose routing rules to follow, KIND/NAMESPACE/NAME.")
    var workload: String?
    @Option(name: .customLong("workload-port"), help: "With --agent: the workload port of the rules (default: the baseline's port).")
    var workloadPort: String?
    @Option(name: .customLong("custom-header"), help: "A header whose whole value is a routing key (repeatable).")
    var customHeader: [String] = []
    @Option(help: "Worker threads, or auto (one per core; the default).")
    var workers: String?
    @Option(help: "Admin listener ADDR:PORT for /healthz, /ready, /routes, /metrics.")
    var admin: String?
    @Option(name: .customLong("drain-timeout"), help: "Seconds in-flight requests get to finish on SIGTERM (default 15).")
    var drainTimeout: String?
    @Option(name: .customLong("access-log"), help: "off (default), stdout, or a file path (JSON lines).")
    var accessLog: String?
    @Option(name: .customLong("handover-socket"),
            help: "Unix socket path for binary upgrades: take the listeners of the devmesh serving there, then serve it.")
    var handoverSocket: String?
    @Option(name: .customLong("batch-window-us"),
            help: "Microseconds a busy worker waits to batch what arrives (0-1000, default 50; 0 = off).")
    var batchWindowUs: String?

    func run() throws {
        // Before anything can start a thread (configuration loading uses Foundation): every
        // thread must inherit the mask, so that only the control thread's signalfd sees them.
        do {
            try Signals.block(ProxyServer.handledSignals)
        } catch {
            FileHandleStderr.write("devmesh: cannot block signals: \(error)\n")
            throw ExitCode(1)
        }
        var options = QuickStartOptions(configPath: config, listen: listen, baseline: baseline, routes: route,
                                        fallback: fallback, upstreamProtocol: upstreamProtocol,
                                        agent: agent, workload: workload, workloadPort: workloadPort,
                                        customHeaders: customHeader, workers: workers,
                                        admin: admin, drainTimeout: drainTimeout, accessLog: accessLog,
                                        handoverSocket: handoverSocket)
        options.batchWindowMicroseconds = batchWindowUs
        let configuration: ProxyConfiguration
        do {
            configuration = try options.makeConfiguration()
        } catch {
            FileHandleStderr.write("devmesh: \(error)\n")
            throw ExitCode(1)
        }
        let server: ProxyServer
        do {
            server = try ProxyServer(configuration: configuration, options: options)
        } catch {
            FileHandleStderr.write("devmesh: \(error)\n")
            throw ExitCode(1)
        }
        let status = server.run()
        if status != 0 { throw ExitCode(status) }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file; exit 0 when it is valid, 1 with the problems otherwise.")

    @Option(help: "YAML configuration file.")
    var config: String

    func run() throws {
        do {
            let loaded = try ConfigLoader.load(path: config)
            let routes = loaded.routing.services.reduce(0) { $0 + $1.routes.count }
            print("\(config): valid (\(loaded.routing.services.count) service(s), \(routes) route(s))")
        } catch {
            FileHandleStderr.write("devmesh: \(error)\n")
            throw ExitCode(1)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("devmesh \(DevmeshVersion.current)")
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress!, $0.count) }
    }
}

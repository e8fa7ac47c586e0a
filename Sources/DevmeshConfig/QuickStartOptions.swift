import DevmeshRouting
import Foundation

/// The quick-start command-line flags, as the executable received them (raw text: this
/// module owns the syntax and the error messages, so the flags and the YAML file accept
/// exactly the same spellings).
///
/// Without `configPath` the flags describe a sidecar: one default service named `default`
/// with `baseline` and the `routes`. With `configPath` the file describes everything; the
/// flags that shape routing are then an error, and the process flags override the file.
/// On reload, call `makeConfiguration()` again so the overrides still apply.
public struct QuickStartOptions: Sendable, Equatable {
    /// `--config FILE`.
    public var configPath: String?
    /// `--listen ADDR:PORT`, repeatable; empty means 127.0.0.1:8080.
    public var listen: [String]
    /// `--baseline HOST:PORT[,HOST:PORT...]`, required without `--config`.
    public var baseline: String?
    /// `--route KEY=HOST:PORT[,HOST:PORT...]`, repeatable.
    public var routes: [String]
    /// `--fallback fail|baseline`, for every `--route`.
    public var fallback: String?
    /// `--upstream-protocol auto|http1|h2c`, for the baseline and every `--route`.
    public var upstreamProtocol: String?
    /// `--agent HOST:PORT`: follow this Routes API server for routes.
    public var agent: String?
    /// `--workload KIND/NAMESPACE/NAME`: the baseline workload whose rules to follow.
    public var workload: String?
    /// `--workload-port N`: the workload port of the rules (default: the baseline's port).
    public var workloadPort: String?
    /// `--custom-header NAME`, repeatable.
    public var customHeaders: [String]
    /// `--workers N|auto`.
    public var workers: String?
    /// `--admin ADDR:PORT`.
    public var admin: String?
    /// `--drain-timeout SECONDS` (`15`, `0.5`, or with a unit: `500ms`).
    public var drainTimeout: String?
    /// `--access-log off|stdout|PATH` (a relative PATH is taken from the current directory).
    public var accessLog: String?
    /// `--handover-socket PATH`: hand listeners over to / take them from another devmesh.
    public var handoverSocket: String?
    /// `--batch-window-us N` (0–1000; 0 turns batching off).
    public var batchWindowMicroseconds: String? = nil

    /// The service name the flags' single service gets (in logs, metrics and `/routes`).
    public static let quickStartServiceName = "default"

    public init(configPath: String? = nil, listen: [String] = [], baseline: String? = nil,
                routes: [String] = [], fallback: String? = nil, upstreamProtocol: String? = nil,
                agent: String? = nil, workload: String? = nil, workloadPort: String? = nil,
                customHeaders: [String] = [],
                workers: String? = nil, admin: String? = nil, drainTimeout: String? = nil,
                accessLog: String? = nil, handoverSocket: String? = nil) {
        self.configPath = configPath
        self.listen = listen
        self.baseline = baseline
        self.routes = routes
        self.fallback = fallback
        self.upstreamProtocol = upstreamProtocol
        self.agent = agent
        self.workload = workload
        self.workloadPort = workloadPort
        self.customHeaders = customHeaders
        self.workers = workers
        self.admin = admin
        self.drainTimeout = drainTimeout
        self.accessLog = accessLog
        self.handoverSocket = handoverSocket
    }

    /// Builds the validated configuration: from the file when `configPath` is set (plus the
    /// overrides), from the flags alone otherwise. Every bad flag is reported, each by name.
    /// - Parameter currentDirectory: where a relative `--access-log` path is anchored.
    public func makeConfiguration(
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(ConfigError) -> ProxyConfiguration {
        let diagnostics = Diagnostics()
        var configuration: ProxyConfiguration
        if let configPath {
            rejectRoutingFlags(diagnostics)
            if let error = diagnostics.error() { throw error }
            configuration = try ConfigLoader.load(path: configPath)
        } else {
            // When the routing flags are bad, the overrides are still checked (against a
            // stand-in) so that every bad flag is reported in one go.
            configuration = flagConfiguration(diagnostics)
                ?? ProxyConfiguration(routing: RoutingSpec(services: []))
        }
        applyOverrides(to: &configuration, currentDirectory: currentDirectory, diagnostics)
        if let error = diagnostics.error() { throw error }
        return configuration
    }

    // MARK: - With --config

    private func rejectRoutingFlags(_ diagnostics: Diagnostics) {
        let given: [(flag: String, key: String, isSet: Bool)] = [
            ("--listen", "listen", !listen.isEmpty),
            ("--baseline", "services[].baseline", baseline != nil),
            ("--route", "services[].routes", !routes.isEmpty),
            ("--fallback", "services[].routes[].fallback", fallback != nil),
            ("--upstream-protocol", "services[].protocol", upstreamProtocol != nil),
            ("--agent", "agent", agent != nil),
            ("--workload", "services[].workload", workload != nil),
            ("--workload-port", "services[].workload_port", workloadPort != nil),
            ("--custom-header", "routing.custom_headers", !customHeaders.isEmpty),
        ]
        for (flag, key, isSet) in given where isSet {
            diagnostics.report("cannot be combined with --config (set \(key) in the file)", at: .flag(flag))
        }
    }

    // MARK: - Without --config

    private func flagConfiguration(_ diagnostics: Diagnostics) -> ProxyConfiguration? {
        var listeners = [ProxyConfiguration.defaultListener]
        if !listen.isEmpty {
            var seen = FirstSeen<ListenAddress>()
            listeners = listen.compactMap { text in
                let location = Location.flag("--listen", value: text)
                guard let address = parse(text, at: location, diagnostics, AddressSyntax.listenAddress) else {
                    return nil
                }
                if address.port != 0 && seen.repeatNote(address, at: location) != nil {
                    diagnostics.report("given twice", at: location)
                    return nil
                }
                return address
            }
        }
        var baselineEndpoints: [EndpointSpec]?
        if let baseline {
            baselineEndpoints = endpoints(baseline, at: .flag("--baseline", value: baseline), diagnostics)
        } else {
            diagnostics.report("required unless --config is given", at: .flag("--baseline"))
        }
        var policy = FallbackPolicy.fail
        if let fallback {
            if let parsed = FallbackPolicy(rawValue: fallback) {
                policy = parsed
            } else {
                diagnostics.report("expected fail or baseline", at: .flag("--fallback", value: fallback))
            }
        }
        var protocolChoice = UpstreamProtocol.auto
        if let upstreamProtocol {
            if let parsed = UpstreamProtocol(rawValue: upstreamProtocol) {
                protocolChoice = parsed
            } else {
                diagnostics.report("expected auto, http1 or h2c",
                                   at: .flag("--upstream-protocol", value: upstreamProtocol))
            }
        }
        var keys = FirstSeen<String>()
        let routeSpecs: [RouteSpec] = routes.compactMap { text in
            let location = Location.flag("--route", value: text)
            guard let equals = text.firstIndex(of: "=") else {
                diagnostics.report("expected KEY=HOST:PORT[,HOST:PORT...]", at: location)
                return nil
            }
            let keyText = String(text[..<equals])
            guard let key = parse(keyText, at: location, diagnostics, NameSyntax.routingKey),
                  let targets = endpoints(String(text[text.index(after: equals)...]), at: location, diagnostics)
            else { return nil }
            if keys.repeatNote(key, at: location) != nil {
                diagnostics.report("routing key '\(key)' is routed twice", at: location)
                return nil
            }
            return RouteSpec(routingKey: key, endpoints: targets, fallback: policy)
        }
        var headers = FirstSeen<String>()
        let customHeaderNames: [String] = customHeaders.compactMap { text in
            let location = Location.flag("--custom-header", value: text)
            guard let name = parse(text, at: location, diagnostics, NameSyntax.headerName) else { return nil }
            if headers.repeatNote(name, at: location) != nil {
                diagnostics.report("given twice", at: location)
                return nil
            }
            return name
        }
        let agentSettings = agentFlags(baseline: baselineEndpoints, diagnostics)
        guard diagnostics.isEmpty, let baselineEndpoints else { return nil }
        let service = ServiceSpec(name: Self.quickStartServiceName, baseline: baselineEndpoints, routes: routeSpecs,
                                  upstreamProtocol: protocolChoice)
        return ProxyConfiguration(listeners: listeners,
                                  routing: RoutingSpec(services: [service],
                                                       carriers: CarrierSpec(customHeaders: customHeaderNames)),
                                  agent: agentSettings)
    }

    /// `--agent` with `--workload` (and `--workload-port`): the sidecar follows its own workload.
    private func agentFlags(baseline: [EndpointSpec]?, _ diagnostics: Diagnostics) -> AgentSettings? {
        if agent == nil && workload == nil {
            if let workloadPort {
                diagnostics.report("needs --workload", at: .flag("--workload-port", value: workloadPort))
            }
            return nil
        }
        guard let agent else {
            diagnostics.report("needs --agent (the Routes API server to watch)", at: .flag("--workload", value: workload))
            return nil
        }
        guard let workload else {
            diagnostics.report("needs --workload KIND/NAMESPACE/NAME (whose rules to follow)", at: .flag("--agent", value: agent))
            return nil
        }
        let address = parse(agent, at: .flag("--agent", value: agent), diagnostics, AddressSyntax.endpoint)
        let parsed = parse(workload, at: .flag("--workload", value: workload), diagnostics, NameSyntax.workload)
        var port = baseline?.first?.port
        if let workloadPort {
            port = parse(workloadPort, at: .flag("--workload-port", value: workloadPort), diagnostics) {
                text throws(SyntaxProblem) in try AddressSyntax.parsePort(Substring(text), allowZero: false)
            }
        }
        guard let address, let parsed, let port else { return nil }
        return AgentSettings(address: address, subscriptions: [
            WorkloadSubscription(service: Self.quickStartServiceName, kind: parsed.kind,
                                 namespace: parsed.namespace, name: parsed.name, port: port),
        ])
    }

    /// `HOST:PORT[,HOST:PORT...]`, distinct endpoints.
    private func endpoints(_ text: String, at location: Location, _ diagnostics: Diagnostics) -> [EndpointSpec]? {
        var seen = FirstSeen<EndpointSpec>()
        var result: [EndpointSpec] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let endpoint = parse(String(part), at: location, diagnostics, AddressSyntax.endpoint) else {
                return nil
            }
            if seen.repeatNote(endpoint, at: location) != nil {
                diagnostics.report("endpoint \(endpoint) is listed twice", at: location)
                return nil
            }
            result.append(endpoint)
        }
        return result
    }

    // MARK: - Overrides (with or without --config)

    private func applyOverrides(to configuration: inout ProxyConfiguration, currentDirectory: String,
                                _ diagnostics: Diagnostics) {
        if let workers {
            let location = Location.flag("--workers", value: workers)
            if workers == "auto" {
                configuration.workers = nil
            } else if let count = parse(workers, at: location, diagnostics, QuantitySyntax.integer) {
                if Bounds.workers.contains(count) {
                    configuration.workers = count
                } else {
                    diagnostics.report("out of range (\(Bounds.workers.lowerBound)-\(Bounds.workers.upperBound), "
                                       + "or auto)", at: location)
                }
            }
        }
        if let batchWindowMicroseconds {
            let location = Location.flag("--batch-window-us", value: batchWindowMicroseconds)
            if let value = parse(batchWindowMicroseconds, at: location, diagnostics, QuantitySyntax.integer) {
                if Bounds.batchWindowMicroseconds.contains(value) {
                    configuration.batchWindowMicroseconds = value
                } else {
                    diagnostics.report("out of range (\(Bounds.batchWindowMicroseconds.lowerBound)-"
                                       + "\(Bounds.batchWindowMicroseconds.upperBound))", at: location)
                }
            }
        }
        if let admin {
            let location = Location.flag("--admin", value: admin)
            if let address = parse(admin, at: location, diagnostics, AddressSyntax.listenAddress) {
                if address.port != 0 && configuration.listeners.contains(address) {
                    diagnostics.report("\(address) is also a listen address", at: location)
                }
                configuration.admin = address
            }
        }
        if let drainTimeout {
            let location = Location.flag("--drain-timeout", value: drainTimeout)
            if let duration = parse(drainTimeout, at: location, diagnostics, QuantitySyntax.seconds),
               let checked = DurationRule.check(duration, text: drainTimeout, offAllowed: false,
                                                report: { diagnostics.report($0, at: location) }) {
                configuration.drainTimeout = checked
            }
        }
        if let accessLog {
            let location = Location.flag("--access-log", value: accessLog)
            if let target = AccessLogSyntax.parse(accessLog, relativeTo: currentDirectory,
                                                  report: { diagnostics.report($0, at: location) }) {
                configuration.accessLog = target
            }
        }
        if let handoverSocket {
            let location = Location.flag("--handover-socket", value: handoverSocket)
            if let path = parse(handoverSocket, at: location, diagnostics, HandoverSocketSyntax.path) {
                configuration.handoverSocket = path
            }
        }
    }

    private func parse<T>(_ text: String, at location: Location, _ diagnostics: Diagnostics,
                          _ parser: (String) throws(SyntaxProblem) -> T) -> T? {
        do {
            return try parser(text)
        } catch {
            diagnostics.report(error, at: location)
            return nil
        }
    }
}

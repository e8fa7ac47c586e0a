import DevmeshHTTP1
import DevmeshRouting

/// The whole validated configuration of one proxy process: what `ConfigLoader` builds from a
/// YAML file and `QuickStartOptions` builds from command-line flags.
///
/// A value of this type has passed every check in docs/configuration.md; the proxy trusts it
/// and does not re-validate. Building one by hand (tests, embedding) skips those checks.
public struct ProxyConfiguration: Sendable, Equatable {
    /// Addresses to accept downstream connections on (at least one). Every worker binds each
    /// of them with SO_REUSEPORT.
    public var listeners: [ListenAddress]
    /// Worker threads; `nil` means one per available core.
    public var workers: Int?
    /// Where the admin endpoint (stats, routes, drain) listens; `nil` means no admin listener.
    public var admin: ListenAddress?
    /// After SIGTERM: how long in-flight requests may take to finish before the process exits.
    public var drainTimeout: Milliseconds
    public var accessLog: AccessLogTarget
    public var http1: HTTP1Limits
    public var http2: HTTP2Options
    public var limits: ProxyLimits
    public var timeouts: Timeouts
    public var routing: RoutingSpec
    /// The control plane to follow for routes, if any.
    public var agent: AgentSettings?
    /// A unix socket path: a running proxy hands its listening sockets over it to the next
    /// devmesh started with the same path (binary upgrade). nil: no handover.
    public var handoverSocket: String? = nil
    /// How long a worker pauses after a busy loop turn so that what arrives meanwhile is handled
    /// in one batch (`EventLoop.batchWindowNanoseconds`); 0: never.
    public var batchWindowMicroseconds = ProxyConfiguration.defaultBatchWindowMicroseconds

    public static let defaultListener = ListenAddress(host: "127.0.0.1", port: 8080)
    public static let defaultDrainTimeout = Milliseconds.seconds(15)
    /// 100 µs: in S6 it spent 4–17 % less CPU per gRPC call than 50 µs at 10k calls/s and up, with
    /// p50 within the runs' spread (docs/benchmarks.md, "The batch window: 50 or 100 µs").
    public static let defaultBatchWindowMicroseconds = 100

    public init(listeners: [ListenAddress] = [ProxyConfiguration.defaultListener],
                workers: Int? = nil,
                admin: ListenAddress? = nil,
                drainTimeout: Milliseconds = ProxyConfiguration.defaultDrainTimeout,
                accessLog: AccessLogTarget = .off,
                http1: HTTP1Limits = HTTP1Limits(),
                http2: HTTP2Options = HTTP2Options(),
                limits: ProxyLimits = ProxyLimits(),
                timeouts: Timeouts = Timeouts(),
                routing: RoutingSpec,
                agent: AgentSettings? = nil) {
        self.listeners = listeners
        self.workers = workers
        self.admin = admin
        self.drainTimeout = drainTimeout
        self.accessLog = accessLog
        self.http1 = http1
        self.http2 = http2
        self.limits = limits
        self.timeouts = timeouts
        self.routing = routing
        self.agent = agent
    }
}

/// Connection-count limits. HTTP/1 message-size limits live in `HTTP1Limits`.
///
/// Every count is per worker: workers share nothing (DESIGN.md), so each worker enforces its
/// own share and the process-wide figure is the value times the number of workers.
public struct ProxyLimits: Sendable, Equatable {
    /// Downstream connections one worker keeps open; past it the worker stops accepting until
    /// a connection closes (no spin on accept, notes/reliability.md F15).
    public var maxConnectionsPerWorker: Int
    /// Idle keep-alive connections one worker keeps per upstream endpoint; extra ones are
    /// closed when released.
    public var upstreamMaxIdlePerEndpoint: Int
    /// Open connections (busy + idle) one worker may have to one upstream endpoint; a request
    /// that would exceed it fails fast with 503 instead of queueing without bound.
    public var upstreamMaxConnectionsPerEndpoint: Int

    public static let defaultMaxConnectionsPerWorker = 10_000
    public static let defaultUpstreamMaxIdlePerEndpoint = 64
    public static let defaultUpstreamMaxConnectionsPerEndpoint = 1_024

    public init(maxConnectionsPerWorker: Int = ProxyLimits.defaultMaxConnectionsPerWorker,
                upstreamMaxIdlePerEndpoint: Int = ProxyLimits.defaultUpstreamMaxIdlePerEndpoint,
                upstreamMaxConnectionsPerEndpoint: Int = ProxyLimits.defaultUpstreamMaxConnectionsPerEndpoint) {
        self.maxConnectionsPerWorker = maxConnectionsPerWorker
        self.upstreamMaxIdlePerEndpoint = upstreamMaxIdlePerEndpoint
        self.upstreamMaxConnectionsPerEndpoint = upstreamMaxConnectionsPerEndpoint
    }
}

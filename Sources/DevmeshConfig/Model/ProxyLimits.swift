/// Connection-count limits. HTTP/1 message-size limits live in `HTTP1Limits`.
///
/// Every count is per worker: workers share nothing (DESIGN.md), so each worker enforces its
/// own share and the process-wide figure is the value times the number of workers.
public struct ProxyLimits: Sendable, Equatable {
    /// Downstream connections one worker keeps open; past it the worker stops accepting until
    /// a connection closes (no spin on accept, notes/reliability.md F15).
    public var maxConnectionsPerWorker: Int
    /// Idle keep-alive connections one worker keeps per upstream endpoint; extra ones are
    /// closed when released. The default keeps every connection the worker may open (like
    /// HAProxy's and Envoy's unlimited idle pools), so a burst above the cap does not close
    /// connections only to open them again on the next burst; idle ones still expire after
    /// `upstream_idle`.
    public var upstreamMaxIdlePerEndpoint: Int
    /// Open connections (busy + idle) one worker may have to one upstream endpoint; a request
    /// that would exceed it fails fast with 503 instead of queueing without bound.
    public var upstreamMaxConnectionsPerEndpoint: Int
    /// Requests one worker has in flight at once, over all its connections (an HTTP/1.1
    /// connection holds at most one, an HTTP/2 connection one per open stream). Above it a new
    /// request is shed at once (HTTP/1.1: 503 and close; HTTP/2: RST_STREAM REFUSED_STREAM, which
    /// a client may retry safely) instead of queueing without bound (reliability.md F18).
    public var maxRequestsPerWorker: Int

    public static let defaultMaxConnectionsPerWorker = 10_000
    public static let defaultMaxRequestsPerWorker = 10_000
    public static let defaultUpstreamMaxIdlePerEndpoint = 1_024
    public static let defaultUpstreamMaxConnectionsPerEndpoint = 1_024

    public init(maxConnectionsPerWorker: Int = ProxyLimits.defaultMaxConnectionsPerWorker,
                upstreamMaxIdlePerEndpoint: Int = ProxyLimits.defaultUpstreamMaxIdlePerEndpoint,
                upstreamMaxConnectionsPerEndpoint: Int = ProxyLimits.defaultUpstreamMaxConnectionsPerEndpoint,
                maxRequestsPerWorker: Int = ProxyLimits.defaultMaxRequestsPerWorker) {
        self.maxConnectionsPerWorker = maxConnectionsPerWorker
        self.upstreamMaxIdlePerEndpoint = upstreamMaxIdlePerEndpoint
        self.upstreamMaxConnectionsPerEndpoint = upstreamMaxConnectionsPerEndpoint
        self.maxRequestsPerWorker = maxRequestsPerWorker
    }
}

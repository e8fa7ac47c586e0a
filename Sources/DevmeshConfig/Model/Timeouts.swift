/// Every timer the proxy arms, in milliseconds. Defaults follow notes/reliability.md §1: a
/// request-head deadline is always on (slowloris), the response timeout matches Envoy's 15 s.
public struct Timeouts: Sendable, Equatable {
    /// From a downstream connection's first byte of a request (or accept) until its request
    /// head is complete; on expiry the proxy answers 408 and closes. Never off.
    public var requestHead: Milliseconds
    /// How long a downstream keep-alive connection may sit between requests.
    public var downstreamIdle: Milliseconds
    /// TCP connect to an upstream endpoint; on expiry the request fails with 503 (or falls back
    /// to the baseline when the route says so).
    public var upstreamConnect: Milliseconds
    /// From the request being fully sent upstream until the response head arrives; on expiry
    /// 504. `.off` (0) disables it, for long polls and streaming RPCs.
    public var upstreamResponse: Milliseconds
    /// How long a pooled upstream connection may stay idle before the proxy closes it. Keep it
    /// below the upstream's own keep-alive timeout so the proxy closes first (F23).
    public var upstreamIdle: Milliseconds
    /// While a body streams in either direction: the longest gap with no byte moving either
    /// way before the exchange is aborted. `.off` (0) disables it.
    public var streamIdle: Milliseconds

    public static let defaultRequestHead = Milliseconds.seconds(10)
    public static let defaultDownstreamIdle = Milliseconds.seconds(60)
    public static let defaultUpstreamConnect = Milliseconds.seconds(2)
    public static let defaultUpstreamResponse = Milliseconds.seconds(15)
    public static let defaultUpstreamIdle = Milliseconds.seconds(30)
    public static let defaultStreamIdle = Milliseconds.seconds(60)

    public init(requestHead: Milliseconds = Timeouts.defaultRequestHead,
                downstreamIdle: Milliseconds = Timeouts.defaultDownstreamIdle,
                upstreamConnect: Milliseconds = Timeouts.defaultUpstreamConnect,
                upstreamResponse: Milliseconds = Timeouts.defaultUpstreamResponse,
                upstreamIdle: Milliseconds = Timeouts.defaultUpstreamIdle,
                streamIdle: Milliseconds = Timeouts.defaultStreamIdle) {
        self.requestHead = requestHead
        self.downstreamIdle = downstreamIdle
        self.upstreamConnect = upstreamConnect
        self.upstreamResponse = upstreamResponse
        self.upstreamIdle = upstreamIdle
        self.streamIdle = streamIdle
    }
}

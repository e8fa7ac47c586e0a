/// HTTP/2 settings and limits (the `http2:` section). Every HTTP/2 connection of the proxy uses
/// them: client connections (h2c) and multiplexed upstream connections. The proxy turns them
/// into DevmeshHTTP2's `HTTP2Settings`; the defaults are the same values (a test keeps them in
/// step) and follow the strictest anchors of notes/reliability.md §1 and §3.
public struct HTTP2Options: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised to clients; also the most streams devmesh
    /// opens on one upstream connection.
    public var maxConcurrentStreams = 100
    /// SETTINGS_INITIAL_WINDOW_SIZE: what a peer may send on one stream before devmesh has passed
    /// it on (flow control follows the other side's progress).
    public var initialStreamWindowBytes = 64 * 1024
    /// The connection-level receive window.
    public var connectionWindowBytes = 1024 * 1024
    /// SETTINGS_MAX_FRAME_SIZE.
    public var maxFrameBytes = 16_384
    /// Decoded header list (names + values + 32 per field): over it a request gets 431.
    public var maxHeaderListBytes = 64 * 1024
    /// Header fields in one block.
    public var maxHeaderCount = 100
    /// Bytes buffered per stream on the way out before the sender is pushed back.
    public var streamSendBufferBytes = 16 * 1024
    /// CONTINUATION frames after one HEADERS before the connection fails (CVE-2024-28182).
    public var maxContinuationFrames = 8
    /// Consecutive frames with an empty payload (DATA, HEADERS, CONTINUATION) tolerated.
    public var maxConsecutiveEmptyFrames = 1
    /// Frames other than DATA waiting to be written before the connection fails (a peer that
    /// provokes answers and does not read them).
    public var maxOutboundQueuedFrames = 10_000
    /// Rapid reset (CVE-2023-44487): once this many of a connection's streams have closed...
    public var rapidResetStreams = 500
    /// ...the connection fails when at least this percentage of them were reset by the client...
    public var rapidResetPercent = 50
    /// ...within this long of being opened.
    public var rapidResetWindow = Milliseconds(1000)

    public init() {}
}

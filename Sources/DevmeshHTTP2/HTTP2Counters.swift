/// What one session saw, for metrics. Plain integers, updated on the session's thread; the proxy
/// adds them into its worker counters when a session ends (or samples them).
public struct HTTP2Counters: Sendable, Equatable {
    /// Streams the peer opened (server role) or this side opened (client role).
    public var streamsOpened = 0
    /// Streams the peer reset with RST_STREAM (any code).
    public var streamsResetByPeer = 0
    /// Streams this side reset (`resetStream`, malformed messages, limits).
    public var streamsResetLocally = 0
    /// Peer resets that came within `rapidResetLifetimeMilliseconds` of the stream opening.
    public var quickResets = 0
    /// Header blocks over `maxHeaderListBytes` or `maxHeaderFieldCount`.
    public var headerListsTooLarge = 0
    /// Header fields nghttp2 found invalid (RFC 9113 §8.2); each resets its stream.
    public var invalidHeaderFields = 0
    /// Frames nghttp2 rejected (stream or connection errors it answered itself).
    public var invalidFrames = 0
    /// Frames with an empty payload (DATA without END_STREAM, HEADERS/CONTINUATION without
    /// END_HEADERS, or padding only).
    public var emptyFrames = 0

    public init() {}
}

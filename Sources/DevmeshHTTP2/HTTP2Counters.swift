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
    /// Header fields with a byte RFC 9113 §8.2.1 does not allow (or an empty name); each resets
    /// its stream (and counts as an invalid frame too).
    public var invalidHeaderFields = 0
    /// Frames rejected: stream or connection errors nghttp2 answered itself, and header blocks
    /// the session reset as malformed (RFC 9113 §8.1.1; a body that breaks content-length is not
    /// counted here, as nghttp2 did not count it either).
    public var invalidFrames = 0
    /// Frames with an empty payload (DATA without END_STREAM, HEADERS/CONTINUATION without
    /// END_HEADERS, or padding only).
    public var emptyFrames = 0

    public init() {}
}

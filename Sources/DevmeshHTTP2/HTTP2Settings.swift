/// The SETTINGS an HTTP/2 session advertises and the limits it enforces. Every value is named,
/// has a unit, and defaults close to the strictest anchor in notes/reliability.md §1.
public struct HTTP2Settings: Sendable, Equatable {
    // MARK: Advertised (RFC 9113 §6.5.2) and enforced by nghttp2

    /// Streams the peer may open at once (SETTINGS_MAX_CONCURRENT_STREAMS). In the client role it
    /// also caps the streams this side opens, whatever the peer allows.
    public var maxConcurrentStreams: Int
    /// Receive window of each stream, bytes (SETTINGS_INITIAL_WINDOW_SIZE).
    public var initialStreamWindowBytes: Int
    /// Receive window of the connection as a whole, bytes (raised from 65,535 by WINDOW_UPDATE).
    public var connectionWindowBytes: Int
    /// Largest frame payload the peer may send, bytes (SETTINGS_MAX_FRAME_SIZE).
    public var maxFrameBytes: Int
    /// Largest decoded header list, bytes: names + values + 32 per field (RFC 9113 §6.5.2,
    /// SETTINGS_MAX_HEADER_LIST_SIZE). nghttp2 only caps single fields; the session counts the
    /// total and fails the stream (431 for a request, RST_STREAM otherwise).
    public var maxHeaderListBytes: Int
    /// Regular (non-pseudo) header fields in one block; over it counts as an oversized list.
    public var maxHeaderFieldCount: Int

    // MARK: Output buffering

    /// Bytes `submitData` buffers per stream before it answers `.partial`: the chunk size of the
    /// `HTTP2BufferPool` the buffers come from. A chunk goes back as soon as its stream's buffer
    /// is empty.
    public var streamSendBufferBytes: Int
    /// Largest header block this side encodes, bytes (nghttp2 fails larger submissions).
    public var maxSendHeaderBlockBytes: Int

    // MARK: Abuse limits (reliability.md §3: what nghttp2 1.52 leaves to us)

    /// Consecutive frames with an empty payload before the connection fails (Envoy: 1).
    public var maxConsecutiveEmptyFrames: Int
    /// CONTINUATION frames after one HEADERS (CVE-2024-28182; counted by the session, since
    /// nghttp2 1.52 miscounts frames whose header arrives in pieces).
    public var maxContinuationFrames: Int
    /// SETTINGS/PING ACKs waiting in the output before the connection fails (nghttp2's check).
    public var maxOutboundAcks: Int
    /// Frames of any kind but DATA waiting in nghttp2's outbound queue after a `receive`
    /// (RST_STREAM answers, WINDOW_UPDATEs, ...) before the connection fails (Envoy: 10,000).
    public var maxOutboundQueuedFrames: Int
    /// New peer streams in one `receive` call (nginx: twice the concurrent-stream limit).
    public var maxNewStreamsPerReceive: Int
    /// Rapid reset (CVE-2023-44487): after this many of the peer's streams closed...
    public var rapidResetSampleStreams: Int
    /// ...fail when at least this percentage was reset by the peer...
    public var rapidResetPercent: Int
    /// ...within this many milliseconds of opening (Envoy: 500 streams, 50 %, 1 s).
    public var rapidResetLifetimeMilliseconds: Int64

    public static let defaultMaxConcurrentStreams = 100
    public static let defaultInitialStreamWindowBytes = 64 * 1024
    public static let defaultConnectionWindowBytes = 1024 * 1024
    public static let defaultMaxFrameBytes = 16_384
    public static let defaultMaxHeaderListBytes = 64 * 1024
    public static let defaultMaxHeaderFieldCount = 100
    public static let defaultStreamSendBufferBytes = 16 * 1024
    public static let defaultMaxSendHeaderBlockBytes = 64 * 1024
    public static let defaultMaxConsecutiveEmptyFrames = 1
    public static let defaultMaxContinuationFrames = 8
    public static let defaultMaxOutboundAcks = 1000
    public static let defaultMaxOutboundQueuedFrames = 10_000
    public static let defaultRapidResetSampleStreams = 500
    public static let defaultRapidResetPercent = 50
    public static let defaultRapidResetLifetimeMilliseconds: Int64 = 1000

    public init(maxConcurrentStreams: Int = HTTP2Settings.defaultMaxConcurrentStreams,
                initialStreamWindowBytes: Int = HTTP2Settings.defaultInitialStreamWindowBytes,
                connectionWindowBytes: Int = HTTP2Settings.defaultConnectionWindowBytes,
                maxFrameBytes: Int = HTTP2Settings.defaultMaxFrameBytes,
                maxHeaderListBytes: Int = HTTP2Settings.defaultMaxHeaderListBytes,
                maxHeaderFieldCount: Int = HTTP2Settings.defaultMaxHeaderFieldCount,
                streamSendBufferBytes: Int = HTTP2Settings.defaultStreamSendBufferBytes,
                maxSendHeaderBlockBytes: Int = HTTP2Settings.defaultMaxSendHeaderBlockBytes,
                maxConsecutiveEmptyFrames: Int = HTTP2Settings.defaultMaxConsecutiveEmptyFrames,
                maxContinuationFrames: Int = HTTP2Settings.defaultMaxContinuationFrames,
                maxOutboundAcks: Int = HTTP2Settings.defaultMaxOutboundAcks,
                maxOutboundQueuedFrames: Int = HTTP2Settings.defaultMaxOutboundQueuedFrames,
                maxNewStreamsPerReceive: Int? = nil,
                rapidResetSampleStreams: Int = HTTP2Settings.defaultRapidResetSampleStreams,
                rapidResetPercent: Int = HTTP2Settings.defaultRapidResetPercent,
                rapidResetLifetimeMilliseconds: Int64 = HTTP2Settings.defaultRapidResetLifetimeMilliseconds) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamWindowBytes = initialStreamWindowBytes
        self.connectionWindowBytes = connectionWindowBytes
        self.maxFrameBytes = maxFrameBytes
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxHeaderFieldCount = maxHeaderFieldCount
        self.streamSendBufferBytes = streamSendBufferBytes
        self.maxSendHeaderBlockBytes = maxSendHeaderBlockBytes
        self.maxConsecutiveEmptyFrames = maxConsecutiveEmptyFrames
        self.maxContinuationFrames = maxContinuationFrames
        self.maxOutboundAcks = maxOutboundAcks
        self.maxOutboundQueuedFrames = maxOutboundQueuedFrames
        self.maxNewStreamsPerReceive = maxNewStreamsPerReceive ?? 2 * maxConcurrentStreams
        self.rapidResetSampleStreams = rapidResetSampleStreams
        self.rapidResetPercent = rapidResetPercent
        self.rapidResetLifetimeMilliseconds = rapidResetLifetimeMilliseconds
    }

    /// Checks the values against the ranges RFC 9113 allows (§6.5.2, §6.9.1) and against each
    /// other. Returns a message for the first problem, nil when the settings are usable.
    public func validationProblem() -> String? {
        if maxConcurrentStreams < 1 { return "maxConcurrentStreams must be at least 1" }
        if initialStreamWindowBytes < 1 || initialStreamWindowBytes > Int(Int32.max) {
            return "initialStreamWindowBytes must be in 1...2^31-1"
        }
        if connectionWindowBytes < 65_535 || connectionWindowBytes > Int(Int32.max) {
            return "connectionWindowBytes must be in 65535...2^31-1"
        }
        if maxFrameBytes < 16_384 || maxFrameBytes > 16_777_215 {
            return "maxFrameBytes must be in 16384...16777215"
        }
        if maxHeaderListBytes < 1024 { return "maxHeaderListBytes must be at least 1024" }
        if maxHeaderFieldCount < 1 { return "maxHeaderFieldCount must be at least 1" }
        if streamSendBufferBytes < 1024 { return "streamSendBufferBytes must be at least 1024" }
        if maxSendHeaderBlockBytes < 1024 { return "maxSendHeaderBlockBytes must be at least 1024" }
        if maxConsecutiveEmptyFrames < 0 { return "maxConsecutiveEmptyFrames must not be negative" }
        if maxContinuationFrames < 1 { return "maxContinuationFrames must be at least 1" }
        if maxOutboundAcks < 1 || maxOutboundQueuedFrames < 1 { return "outbound limits must be positive" }
        if maxNewStreamsPerReceive < maxConcurrentStreams {
            return "maxNewStreamsPerReceive must be at least maxConcurrentStreams"
        }
        if rapidResetSampleStreams < 1 || !(1...100).contains(rapidResetPercent) {
            return "rapid-reset sample must be positive and its percentage in 1...100"
        }
        return nil
    }
}

/// The accepted range of every number in the configuration, in one place so that the
/// validation and docs/configuration.md can be checked against each other. Minima keep the
/// proxy working (a 100-byte head limit would reject every real request); maxima keep one
/// typo (an extra zero or three) from turning a limit into no limit.
enum Bounds {
    /// A head must hold a request line and a Host header; above 1 MiB a head is an attack.
    static let maxHeadBytes = 1_024...1_048_576
    static let maxHeaderCount = 1...10_000
    /// A chunk-size line is 1–16 hex digits plus CRLF; extensions are the rest.
    static let maxChunkLineBytes = 64...65_536
    static let maxTrailerBytes = 1_024...1_048_576
    static let maxConnectionsPerWorker = 1...1_000_000
    static let maxRequestsPerWorker = 1...1_000_000
    static let upstreamMaxIdlePerEndpoint = 1...100_000
    static let upstreamMaxConnectionsPerEndpoint = 1...1_000_000
    static let workers = 1...1_024
    /// Microseconds; a millisecond would add more latency than any batch could be worth.
    static let batchWindowMicroseconds = 0...1_000
    // http2: RFC 9113 §6.5.2 allows windows up to 2^31-1 and frames of 16 KiB to 16 MiB-1.
    static let http2MaxConcurrentStreams = 1...10_000
    static let http2InitialStreamWindow = 1_024...2_147_483_647
    static let http2ConnectionWindow = 65_535...2_147_483_647
    static let http2MaxFrameBytes = 16_384...16_777_215
    static let http2MaxHeaderListBytes = 1_024...1_048_576
    static let http2MaxHeaderCount = 1...10_000
    static let http2StreamSendBuffer = 1_024...1_048_576
    static let http2MaxContinuationFrames = 1...1_000
    static let http2MaxConsecutiveEmptyFrames = 0...1_000
    static let http2MaxOutboundQueuedFrames = 100...1_000_000
    static let http2RapidResetStreams = 1...1_000_000
    static let http2RapidResetPercent = 1...100
    /// Every duration: 1 ms to 24 h (0 is accepted as "off" only where documented).
    static let duration = Milliseconds(1)...Milliseconds(24 * 3_600_000)
}

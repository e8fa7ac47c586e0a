/// Size limits for HTTP/1.1 messages. Every limit is named, has a unit, and defaults close to
/// the strictest anchor in notes/reliability.md. The proxy answers 431 when a request head
/// breaks `maxHeadBytes` or `maxHeaderCount`, 400 for the chunk limits.
public struct HTTP1Limits: Sendable, Equatable {
    /// Bytes in a request or response head, request/status line and final CRLF included.
    public var maxHeadBytes: Int
    /// Header fields in one head (trailers count separately against the same number).
    public var maxHeaderCount: Int
    /// Bytes in one chunk-size line, extensions included (RFC 9112 §7.1.1 lets us cap them).
    public var maxChunkLineBytes: Int
    /// Bytes in the trailer section of a chunked body.
    public var maxTrailerBytes: Int

    public static let defaultMaxHeadBytes = 64 * 1024
    public static let defaultMaxHeaderCount = 100
    public static let defaultMaxChunkLineBytes = 4 * 1024
    public static let defaultMaxTrailerBytes = 16 * 1024

    public init(maxHeadBytes: Int = HTTP1Limits.defaultMaxHeadBytes,
                maxHeaderCount: Int = HTTP1Limits.defaultMaxHeaderCount,
                maxChunkLineBytes: Int = HTTP1Limits.defaultMaxChunkLineBytes,
                maxTrailerBytes: Int = HTTP1Limits.defaultMaxTrailerBytes) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineBytes = maxChunkLineBytes
        self.maxTrailerBytes = maxTrailerBytes
    }
}

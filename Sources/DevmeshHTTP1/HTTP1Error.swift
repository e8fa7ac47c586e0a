/// Every reason an HTTP/1.1 message is refused, as one small closed enum without payloads, so
/// that returning or throwing it never allocates (typed throws, no `any Error` boxing).
///
/// `status` is the answer the proxy gives a client whose *request* broke the rule; when an
/// *upstream response* breaks it, the proxy answers 502 instead (one mapping point, in the proxy).
/// `slug` is a stable name for logs and metrics labels, in the style of Envoy's response details.
public enum HTTP1Error: Error, Sendable, Equatable, Hashable, CaseIterable, CustomStringConvertible {
    // MARK: Start line (RFC 9112 §3, §4)
    /// The method is empty or has a byte outside `tchar`, or is not followed by exactly one SP.
    case invalidMethod
    /// The request-target is empty (two spaces in a row) or holds a CTL, SP or DEL byte.
    case invalidTarget
    /// The request line does not have the shape `method SP target SP version CRLF`.
    case invalidRequestLine
    /// The version is not `HTTP/DIGIT.DIGIT`.
    case invalidVersion
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (answered with 505).
    case unsupportedVersion
    /// The status line does not have the shape `HTTP-version SP 3DIGIT SP reason CRLF`.
    case invalidStatusLine

    // MARK: Line framing (RFC 9112 §2.2)
    /// A CR that is not followed by LF.
    case bareCR
    /// An LF that is not preceded by CR: we accept CRLF only.
    case bareLF
    /// A line of a caller-given field block does not end in CRLF.
    case unterminatedLine

    // MARK: Field lines (RFC 9112 §5, RFC 9110 §5.5)
    /// A field name that is empty, holds a byte outside `tchar`, or has no colon.
    case invalidHeaderName
    /// Whitespace between the field name and the colon (RFC 9112 §5.1).
    case whitespaceBeforeColon
    /// A line that starts with SP or HTAB: obsolete line folding (RFC 9112 §5.2).
    case obsFold
    /// NUL or another control byte (HTAB aside) in a field value.
    case invalidHeaderValue
    /// More fields than `HTTP1Limits.maxHeaderCount` (431).
    case tooManyHeaders
    /// A head longer than `HTTP1Limits.maxHeadBytes` (431).
    case headTooLarge

    // MARK: Host (RFC 9112 §3.2)
    case missingHost
    case duplicateHost
    case invalidHost

    // MARK: Body framing (RFC 9112 §6)
    /// Content-Length and Transfer-Encoding in one message, in either order (§6.1, §6.3).
    case contentLengthWithTransferEncoding
    /// Content-Length given twice, even with the same value, on one line or several.
    case duplicateContentLength
    /// Content-Length that is not 1*DIGIT or does not fit in 63 bits.
    case invalidContentLength
    /// Transfer-Encoding in an HTTP/1.0 message: its framing cannot be trusted (§6.1).
    case transferEncodingOnHTTP10
    /// `chunked` is not the final transfer coding (§6.3: 400 for requests).
    case chunkedNotFinal
    /// `chunked` applied more than once (§6.1).
    case chunkedTwice
    /// An empty or malformed Transfer-Encoding list, or parameters on `chunked`.
    case invalidTransferEncoding
    /// A transfer coding other than `chunked` (gzip, deflate, ...), answered with 501.
    case unsupportedTransferCoding

    // MARK: Chunked body (RFC 9112 §7.1)
    /// A chunk-size that is empty or not hexadecimal, or junk after it.
    case invalidChunkSize
    /// A chunk-size of more than 16 hex digits or beyond 2^63 - 1.
    case chunkSizeTooLarge
    /// A chunk-size line (extensions included) longer than `maxChunkLineBytes`.
    case chunkLineTooLong
    /// A control byte inside a chunk extension.
    case invalidChunkExtension
    /// Chunk data not followed by exactly CRLF.
    case chunkDataNotTerminated
    /// A trailer section longer than `maxTrailerBytes`.
    case trailersTooLarge
    /// More trailer fields than `maxHeaderCount`.
    case tooManyTrailers
    /// The peer closed before the body's framing said it was complete.
    case truncatedBody

    /// The status code the proxy answers a client with when its request breaks this rule.
    public var status: UInt16 {
        switch self {
        case .tooManyHeaders, .headTooLarge: 431
        case .unsupportedVersion: 505
        case .unsupportedTransferCoding: 501
        default: 400
        }
    }

    /// A stable, short identifier for logs and metric labels. Never parse it; never change it.
    public var slug: StaticString {
        switch self {
        case .invalidMethod: "http1.invalid_method"
        case .invalidTarget: "http1.invalid_target"
        case .invalidRequestLine: "http1.invalid_request_line"
        case .invalidVersion: "http1.invalid_version"
        case .unsupportedVersion: "http1.unsupported_version"
        case .invalidStatusLine: "http1.invalid_status_line"
        case .bareCR: "http1.bare_cr"
        case .bareLF: "http1.bare_lf"
        case .unterminatedLine: "http1.unterminated_line"
        case .invalidHeaderName: "http1.invalid_header_name"
        case .whitespaceBeforeColon: "http1.space_before_colon"
        case .obsFold: "http1.obs_fold"
        case .invalidHeaderValue: "http1.invalid_header_value"
        case .tooManyHeaders: "http1.too_many_headers"
        case .headTooLarge: "http1.head_too_large"
        case .missingHost: "http1.missing_host"
        case .duplicateHost: "http1.duplicate_host"
        case .invalidHost: "http1.invalid_host"
        case .contentLengthWithTransferEncoding: "http1.cl_and_te"
        case .duplicateContentLength: "http1.duplicate_cl"
        case .invalidContentLength: "http1.invalid_cl"
        case .transferEncodingOnHTTP10: "http1.te_on_http10"
        case .chunkedNotFinal: "http1.chunked_not_final"
        case .chunkedTwice: "http1.chunked_twice"
        case .invalidTransferEncoding: "http1.invalid_te"
        case .unsupportedTransferCoding: "http1.unsupported_te"
        case .invalidChunkSize: "http1.invalid_chunk_size"
        case .chunkSizeTooLarge: "http1.chunk_size_too_large"
        case .chunkLineTooLong: "http1.chunk_line_too_long"
        case .invalidChunkExtension: "http1.invalid_chunk_ext"
        case .chunkDataNotTerminated: "http1.chunk_data_not_crlf"
        case .trailersTooLarge: "http1.trailers_too_large"
        case .tooManyTrailers: "http1.too_many_trailers"
        case .truncatedBody: "http1.truncated_body"
        }
    }

    public var description: String { slug.description }
}

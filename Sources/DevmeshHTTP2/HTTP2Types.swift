/// A stream identifier (RFC 9113 §5.1.1): 31 bits, odd for streams a client opens.
public struct HTTP2StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    @inlinable
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The largest stream id (2^31 - 1): the `last-stream-id` of the first GOAWAY of a graceful
    /// shutdown, meaning "every stream you opened may still be processed".
    public static let maximum = HTTP2StreamID(Int32.max)

    @inlinable
    public static func < (lhs: HTTP2StreamID, rhs: HTTP2StreamID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}

/// An HTTP/2 error code (RFC 9113 §7), as carried by RST_STREAM and GOAWAY. Unknown codes from
/// a peer are kept as they are (§7: they MUST NOT trigger special behaviour).
public struct HTTP2ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    @inlinable
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let noError = HTTP2ErrorCode(0x0)
    public static let protocolError = HTTP2ErrorCode(0x1)
    public static let internalError = HTTP2ErrorCode(0x2)
    public static let flowControlError = HTTP2ErrorCode(0x3)
    public static let settingsTimeout = HTTP2ErrorCode(0x4)
    public static let streamClosed = HTTP2ErrorCode(0x5)
    public static let frameSizeError = HTTP2ErrorCode(0x6)
    /// The stream was not processed at all (§8.7): the request may be retried.
    public static let refusedStream = HTTP2ErrorCode(0x7)
    public static let cancel = HTTP2ErrorCode(0x8)
    public static let compressionError = HTTP2ErrorCode(0x9)
    public static let connectError = HTTP2ErrorCode(0xa)
    /// The peer generates excessive load (floods, rapid resets, oversized header lists).
    public static let enhanceYourCalm = HTTP2ErrorCode(0xb)
    public static let inadequateSecurity = HTTP2ErrorCode(0xc)
    public static let http11Required = HTTP2ErrorCode(0xd)

    public var description: String {
        switch rawValue {
        case 0x0: "NO_ERROR"
        case 0x1: "PROTOCOL_ERROR"
        case 0x2: "INTERNAL_ERROR"
        case 0x3: "FLOW_CONTROL_ERROR"
        case 0x4: "SETTINGS_TIMEOUT"
        case 0x5: "STREAM_CLOSED"
        case 0x6: "FRAME_SIZE_ERROR"
        case 0x7: "REFUSED_STREAM"
        case 0x8: "CANCEL"
        case 0x9: "COMPRESSION_ERROR"
        case 0xa: "CONNECT_ERROR"
        case 0xb: "ENHANCE_YOUR_CALM"
        case 0xc: "INADEQUATE_SECURITY"
        case 0xd: "HTTP_1_1_REQUIRED"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// Which end of the connection a session is. A downstream (client-facing) connection is a
/// `.server`; a multiplexed upstream connection is a `.client`.
public enum HTTP2Role: Sendable {
    case server
    case client
}

/// What a received header block is, decided from the stream's history (nghttp2 alone cannot tell
/// a final response that follows a 1xx from trailers).
public enum HTTP2HeaderBlockKind: Sendable, Equatable {
    /// Server role: the request head that opened the stream.
    case request
    /// Client role: an interim 1xx response head; the final one follows.
    case informational
    /// Client role: the final response head.
    case response
    /// Either role: the trailer section; the stream's receiving side ends with it.
    case trailers
}

/// How a stream ended, as the proxy needs it: completed, reset (and by whom), or not processed
/// at all (safe to retry, RFC 9113 §8.7).
public enum HTTP2StreamCloseReason: Sendable, Equatable {
    /// Both directions ended normally.
    case finished
    /// The peer sent RST_STREAM with this code (other than REFUSED_STREAM).
    case resetByPeer(HTTP2ErrorCode)
    /// This side reset the stream: `resetStream`, or the session found the peer's message malformed
    /// (RFC 9113 §8.1.1), or a limit of ours was exceeded.
    case resetLocally(HTTP2ErrorCode)
    /// The peer did not process the stream: RST_STREAM(REFUSED_STREAM), or the stream is above
    /// the last stream id of a GOAWAY received. A request on it may be retried elsewhere.
    case refused

    /// True when the request never reached the peer's application (RFC 9113 §8.7).
    @inlinable
    public var isRetrySafe: Bool { self == .refused }
}

/// Why a session failed as a whole. A GOAWAY carrying `code` has been queued (produce it, then
/// close the connection).
public struct HTTP2ConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The first bytes were not the client connection preface (RFC 9113 §3.4).
        case badPreface
        /// nghttp2 found a protocol violation and sent GOAWAY with the code it chose.
        case protocolViolation
        /// Too many consecutive frames with an empty payload (DATA without END_STREAM, or
        /// HEADERS/CONTINUATION without END_HEADERS).
        case emptyFrameFlood
        /// More CONTINUATION frames in one header block than nghttp2 allows.
        case continuationFlood
        /// SETTINGS/PING ACKs piled up because our output was not read.
        case controlFrameFlood
        /// Too many frames waiting in the outbound queue (peer does not read).
        case outboundQueueFlood
        /// Too many of the peer's streams were reset by the peer soon after opening
        /// (CVE-2023-44487).
        case rapidReset
        /// Too many new streams in one `receive` call.
        case streamOpenBurst
        /// Out of memory, or an nghttp2 failure we did not expect (the raw nghttp2 code).
        case internalFailure(Int32)
    }

    public let code: HTTP2ErrorCode
    public let reason: Reason

    @inlinable
    public init(code: HTTP2ErrorCode, reason: Reason) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(reason) (GOAWAY \(code))" }
}

/// The result of `HTTP2Session.receive`.
public enum HTTP2ReceiveOutcome: Sendable, Equatable {
    /// Every byte was processed; events went to the delegate.
    case processed
    /// The connection failed. A GOAWAY is queued: call `produce` until `wantsWrite` is false,
    /// send those bytes, then close. Later calls to `receive` ignore their input.
    case failed(HTTP2ConnectionError)
}

/// The result of `HTTP2Session.submitData`.
public enum HTTP2SendResult: Sendable, Equatable {
    /// Every byte was buffered (and the end of the stream recorded when asked).
    case accepted
    /// Only this many bytes fit in the stream's bounded buffer; `endStream` was not recorded.
    /// The delegate's `streamCanSendMore` is called once the buffer has drained to half.
    case partial(Int)
    /// The stream no longer exists (finished or reset): drop the data.
    case streamClosed
}

import DevmeshBytes

/// Writes HTTP/1.1 messages from a field list: the other half of protocol translation (an
/// HTTP/2 request sent to an HTTP/1.1 upstream, an HTTP/2 response returned to an HTTP/1.1
/// client). HTTP/1.1 to HTTP/1.1 never comes here: those heads are forwarded as they came.
///
/// Every writer fills a caller buffer and returns the byte count, or nil when the buffer is too
/// small (nothing useful was written). Nothing allocates.
public enum HTTP1Encoder {
    /// How the body of the written message is delimited.
    public enum Framing: Sendable, Equatable {
        /// No body (and no framing field).
        case none
        /// `content-length: N`; the body bytes follow as they are.
        case contentLength(UInt64)
        /// `transfer-encoding: chunked`; the body is written with `chunkPrefix`, the bytes,
        /// `chunkSuffix`, and ends with `lastChunk` (which may carry trailers).
        case chunked
        /// Responses only: the body ends when the connection closes (HTTP/1.0 clients).
        case untilClose
    }

    /// Fields that describe a connection, not a message: never carried across a translation
    /// (RFC 9113 §8.2.2 forbids them in HTTP/2; RFC 9110 §7.6.1 makes them hop-by-hop). The
    /// framing fields are written by the encoder itself from `Framing`.
    public static func isConnectionSpecific(_ name: UnsafeRawBufferPointer) -> Bool {
        let kind = KnownHeader(name: name)
        switch kind {
        case .connection, .keepAlive, .proxyConnection, .te, .upgrade, .http2Settings, .transferEncoding,
             .contentLength, .host:
            return true
        case .other, .expect, .trailer:
            return false
        }
    }

    /// An HTTP/1.1 request head from an HTTP/2 request's parts. `authority` becomes the Host field
    /// (RFC 9113 §8.3.1: `:authority` replaces Host); pseudo-header fields and connection-specific
    /// fields in `fields` are skipped; `te: trailers` is passed on when present, since a gRPC
    /// upstream needs it.
    public static func writeRequestHead(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer,
                                        authority: UnsafeRawBufferPointer, fields: UnsafeBufferPointer<HeaderField>,
                                        framing: Framing, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = ByteWriter(buffer)
        writer.append(method)
        writer.append(" ")
        writer.append(target)
        writer.append(" HTTP/1.1\r\nhost: ")
        writer.append(authority)
        writer.append("\r\n")
        appendFields(fields, to: &writer, keepTrailersTE: true)
        appendFraming(framing, to: &writer)
        writer.append("\r\n")
        return writer.overflowed ? nil : writer.count
    }

    /// An HTTP/1.1 response head from a status and a field list (an HTTP/2 response's fields,
    /// pseudo-header fields skipped). `connection: close` is written when the connection will
    /// close after it, `connection: keep-alive` when an HTTP/1.0 client keeps it open.
    public static func writeResponseHead(status: Int, fields: UnsafeBufferPointer<HeaderField>, framing: Framing,
                                         connection: ConnectionField, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = ByteWriter(buffer)
        writer.append("HTTP/1.1 ")
        writer.append(decimal: UInt64(max(100, min(status, 999))))
        writer.append(" ")
        if let known = SyntheticStatus(rawValue: UInt16(clamping: status)) {
            writer.append(known.reasonPhrase)
        } else {
            writer.append(reasonPhrase(status))
        }
        writer.append("\r\n")
        appendFields(fields, to: &writer, keepTrailersTE: false)
        appendFraming(framing, to: &writer)
        switch connection {
        case .none: break
        case .close: writer.append("connection: close\r\n")
        case .keepAlive: writer.append("connection: keep-alive\r\n")
        }
        writer.append("\r\n")
        return writer.overflowed ? nil : writer.count
    }

    public enum ConnectionField: Sendable {
        case none, close, keepAlive
    }

    /// The size line before a chunk of `size` (> 0) bytes: `<hex>\r\n`.
    public static func writeChunkPrefix(size: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        precondition(size > 0, "a zero-size chunk ends the body: use writeLastChunk")
        var writer = ByteWriter(buffer)
        writer.append(hex: UInt64(size))
        writer.append("\r\n")
        return writer.overflowed ? nil : writer.count
    }

    /// What follows each chunk's data.
    public static let chunkSuffix: StaticString = "\r\n"

    /// The end of a chunked body: `0\r\n`, the trailer fields (pseudo-header and
    /// connection-specific fields skipped), and the final `\r\n`.
    public static func writeLastChunk(trailers: UnsafeBufferPointer<HeaderField>,
                                      into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = ByteWriter(buffer)
        writer.append("0\r\n")
        appendFields(trailers, to: &writer, keepTrailersTE: false)
        writer.append("\r\n")
        return writer.overflowed ? nil : writer.count
    }

    private static func appendFields(_ fields: UnsafeBufferPointer<HeaderField>, to writer: inout ByteWriter,
                                     keepTrailersTE: Bool) {
        for field in fields {
            guard let first = field.name.first, first != UInt8(ascii: ":") else { continue }
            if isConnectionSpecific(field.name) {
                let isTrailersTE = keepTrailersTE && KnownHeader(name: field.name) == .te
                    && ASCII.equalsCaseInsensitive(field.value, lowercased: "trailers")
                guard isTrailersTE else { continue }
            }
            writer.append(field.name)
            writer.append(": ")
            writer.append(field.value)
            writer.append("\r\n")
        }
    }

    private static func appendFraming(_ framing: Framing, to writer: inout ByteWriter) {
        switch framing {
        case .none, .untilClose:
            break
        case .contentLength(let length):
            writer.append("content-length: ")
            writer.append(decimal: length)
            writer.append("\r\n")
        case .chunked:
            writer.append("transfer-encoding: chunked\r\n")
        }
    }

    /// Reason phrases for statuses the synthetic responses do not cover (RFC 9110 §15). The reason
    /// phrase carries no meaning (RFC 9112 §4); an unknown status gets an empty one.
    static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 412: "Precondition Failed"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        default: ""
        }
    }
}

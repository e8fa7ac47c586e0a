import DevmeshBytes
import DevmeshHTTP2

/// A client connection as the worker sees it: an HTTP/1.1 session or an HTTP/2 connection. The
/// worker keeps them in one list for the connection cap and for draining.
protocol DownstreamConnection: AnyObject {
    /// Position in the worker's list (for O(1) removal); -1 when not listed.
    var registryIndex: Int { get set }
    /// The worker is draining: finish what is in flight, take nothing new, then close.
    func drain()
}

extension HTTP1Session: DownstreamConnection {}

/// The client side of a `StreamExchange`, as the exchange sees it: an HTTP/2 client stream, or an
/// HTTP/1.1 session whose request goes to an HTTP/2 upstream. `stream` names the HTTP/2 stream
/// (an HTTP/1.1 session has one exchange at a time and ignores it).
protocol ExchangeDownstream: AnyObject {
    /// The response head (HTTP/2 form: `:status`, then lower-case fields).
    func respond(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>, endStream: Bool)
    /// Response body bytes; `.partial(n)` means only n were taken, and `downstreamCanSendMore`
    /// follows when there is room again.
    func send(_ stream: HTTP2StreamID, _ bytes: UnsafeRawBufferPointer, endStream: Bool) -> HTTP2SendResult
    /// Ends the response with a trailer section.
    func sendTrailers(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>)
    /// The upstream took `byteCount` request body bytes that came from this side.
    func consumed(_ stream: HTTP2StreamID, byteCount: Int)
    /// The exchange cannot complete: abort the client's stream (or connection).
    func reset(_ stream: HTTP2StreamID, code: HTTP2ErrorCode)
    /// The exchange is over on both sides.
    func exchangeFinished(_ stream: HTTP2StreamID)
}

extension HTTP2Downstream: ExchangeDownstream {}

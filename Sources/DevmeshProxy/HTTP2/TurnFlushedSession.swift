import DevmeshBytes
import DevmeshHTTP2

/// An HTTP/2 connection whose output is written once at the end of the loop turn. Exchanges of
/// other connections add frames to its session during the turn; each addition only asks for that
/// one flush, so what several streams produced leaves in one `send`.
protocol TurnFlushedSession: AnyObject {
    var session: HTTP2Session { get }
    func scheduleFlush()
}

extension TurnFlushedSession {
    func send(_ stream: HTTP2StreamID, _ bytes: UnsafeRawBufferPointer, endStream: Bool) -> HTTP2SendResult {
        let result = session.submitData(stream, bytes, endStream: endStream)
        scheduleFlush()
        return result
    }

    func sendTrailers(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>) {
        session.submitTrailers(stream, headers: headers)
        scheduleFlush()
    }

    /// The exchange took `byteCount` bytes of the stream's data: the window may reopen.
    func consumed(_ stream: HTTP2StreamID, byteCount: Int) {
        session.consume(stream, byteCount: byteCount)
        scheduleFlush()
    }
}

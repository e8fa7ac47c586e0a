import DevmeshBytes

/// Receives a session's events. Every method is called synchronously from inside
/// `HTTP2Session.receive` or `HTTP2Session.produce`, on the session's thread.
///
/// The re-entrancy rule: a delegate may call the session's actions (`submitResponse`,
/// `submitData`, `submitTrailers`, `resetStream`, `consume`, `goAway`) from inside these methods;
/// the session does not re-enter nghttp2 for them but queues them and applies them, in order, as
/// soon as nghttp2 has returned. Two things are not allowed from inside a callback, and an
/// assertion catches them in debug builds: calling `receive` or `produce` (the session is in the
/// middle of one), and `submitRequest` (its stream id only exists once nghttp2 assigned it; open
/// streams after `receive` returns). Never release the last reference to the session from inside
/// a callback either: close the connection after `receive`/`produce` has returned.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A header block arrived. `fields` lists every field in order, pseudo-header fields first
    /// (names are lower case: the session rejects anything else, RFC 9113 §8.2.1). The fields point
    /// into nghttp2's memory and are valid only during this call: copy what must outlive it.
    /// With `endStream` the peer's side of the stream ends with this block.
    func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                      kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool)

    /// Body bytes arrived (they point into the buffer given to `receive`, valid during this call
    /// only). The stream's receive window stays closed by these bytes until `consume` is called
    /// for them: call it once the other side has taken them. A last call with empty `bytes` and
    /// `endStream` marks the end of the body (after the session checked content-length).
    func http2Session(_ session: HTTP2Session, didReceiveData bytes: UnsafeRawBufferPointer,
                      stream: HTTP2StreamID, endStream: Bool)

    /// The stream is gone; its id will not be reported again. Bytes not yet consumed are credited
    /// back to the connection window by the session itself.
    func http2Session(_ session: HTTP2Session, streamDidClose stream: HTTP2StreamID,
                      reason: HTTP2StreamCloseReason)

    /// The peer is going away: streams above `lastStreamID` are about to be reported closed with
    /// `.refused`; open no new stream on this session.
    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: HTTP2StreamID,
                      errorCode: HTTP2ErrorCode)

    /// A stream whose `submitData` answered `.partial` has drained to half its buffer: submit more.
    func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID)
}

extension HTTP2SessionDelegate {
    public func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: HTTP2StreamID,
                             errorCode: HTTP2ErrorCode) {}
    public func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID) {}
}

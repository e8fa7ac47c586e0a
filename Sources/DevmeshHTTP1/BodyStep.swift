/// One step of walking a message body, as reported by `ChunkedDecoder.advance` and
/// `BodyFramer.advance`. Each step consumes a prefix of the input it was given; the caller
/// passes the rest of the input (if any) to the next call.
public enum BodyStep: Sendable, Equatable {
    /// `input[0..<offset]` was framing (chunk-size lines, CRLFs) and `input[offset..<offset+count]`
    /// is payload. Consumed: `offset + count` bytes.
    case data(offset: Int, count: Int)
    /// `input[0..<offset]` was framing and `input[offset..<offset+count]` belongs to the trailer
    /// field lines (a chunked body only). Pieces from successive steps, joined, form a block that
    /// `TrailerParser` can parse. Consumed: `offset + count` bytes.
    case trailers(offset: Int, count: Int)
    /// The body is complete: `input[0..<consumed]` belonged to it (framing only); anything after
    /// it is the next message.
    case end(consumed: Int)
    /// All of the input was framing and the body is not finished.
    case needMore
    /// The framing is broken: the connection cannot be trusted any more and must be closed.
    case invalid(HTTP1Error)
}

/// The summary a pass-through forwarder needs: how much of the input is body, and whether
/// the body ended in it.
public enum BodyProgress: Sendable, Equatable {
    /// All of the input belongs to the body, which continues.
    case needMore
    /// The body ended after `consumed` bytes of the input.
    case end(consumed: Int)
    case invalid(HTTP1Error)
}

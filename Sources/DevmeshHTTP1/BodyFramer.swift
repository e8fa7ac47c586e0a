/// One body walker for every framing, so the proxy treats Content-Length, chunked and
/// read-until-close bodies alike: feed it what arrived, forward what it says is body.
public struct BodyFramer: Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case contentLength
        case chunked
        case untilClose
        case complete
    }

    private var kind: Kind
    private var remaining: UInt64 = 0
    private var decoder: ChunkedDecoder

    public init(request framing: RequestBodyFraming, limits: HTTP1Limits = HTTP1Limits()) {
        decoder = ChunkedDecoder(limits: limits)
        switch framing {
        case .none: kind = .complete
        case .chunked: kind = .chunked
        case .contentLength(let length):
            kind = length == 0 ? .complete : .contentLength
            remaining = length
        }
    }

    public init(response framing: ResponseBodyFraming, limits: HTTP1Limits = HTTP1Limits()) {
        decoder = ChunkedDecoder(limits: limits)
        switch framing {
        case .none: kind = .complete
        case .chunked: kind = .chunked
        case .untilClose: kind = .untilClose
        case .contentLength(let length):
            kind = length == 0 ? .complete : .contentLength
            remaining = length
        }
    }

    /// True once the whole body has been seen (a read-until-close body is never complete
    /// before `finishAtClose()`).
    public var isComplete: Bool { kind == .complete }

    /// Payload bytes still expected for a Content-Length body, nil for the other framings.
    public var remainingLength: UInt64? { kind == .contentLength ? remaining : nil }

    /// Consumes a prefix of `input` and says what it was (see `BodyStep`). A Content-Length
    /// body reports its last payload as `.data` and is then `isComplete`; a further call says
    /// `.end(consumed: 0)`. A read-until-close body only ever reports `.data`.
    public mutating func advance(_ input: UnsafeRawBufferPointer) -> BodyStep {
        switch kind {
        case .complete:
            return .end(consumed: 0)
        case .untilClose:
            return input.isEmpty ? .needMore : .data(offset: 0, count: input.count)
        case .contentLength:
            guard !input.isEmpty else { return .needMore }
            let take = Int(min(remaining, UInt64(input.count)))
            remaining -= UInt64(take)
            if remaining == 0 { kind = .complete }
            return .data(offset: 0, count: take)
        case .chunked:
            let step = decoder.advance(input)
            if case .end = step { kind = .complete }
            return step
        }
    }

    /// Walks `input` to its end or to the end of the body (pass-through forwarding).
    public mutating func consume(_ input: UnsafeRawBufferPointer) -> BodyProgress {
        switch kind {
        case .complete:
            return .end(consumed: 0)
        case .untilClose:
            return .needMore
        case .contentLength:
            if remaining <= UInt64(input.count) {
                let consumed = Int(remaining)
                remaining = 0
                kind = .complete
                return .end(consumed: consumed)
            }
            remaining -= UInt64(input.count)
            return .needMore
        case .chunked:
            let progress = decoder.consume(input)
            if case .end = progress { kind = .complete }
            return progress
        }
    }

    /// Call when the peer has closed its side. Returns nil when the body is complete (a
    /// read-until-close body completes here), `.truncatedBody` when the framing promised more:
    /// that body must never be completed downstream (no silent truncation).
    public mutating func finishAtClose() -> HTTP1Error? {
        switch kind {
        case .complete:
            return nil
        case .untilClose:
            kind = .complete
            return nil
        case .contentLength, .chunked:
            return .truncatedBody
        }
    }
}

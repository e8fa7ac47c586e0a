import DevmeshBytes

/// Walks a chunked body (RFC 9112 §7.1) that the proxy forwards untouched: it finds where the
/// body ends, reports where the payload and trailer bytes are, and refuses broken framing.
/// An incremental state machine: input may be split anywhere, at a cost of O(1) per call plus
/// O(1) per framing byte; payload bytes are skipped in bulk.
///
/// ```
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-size   = 1*HEXDIG
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// ```
///
/// Rules beyond the grammar, each a smuggling or resource defence:
/// - the size has at most 16 hex digits and stays below 2^63 (no overflow, fits an Int);
/// - chunk extensions are ignored (§7.1.1 "A recipient MUST ignore unrecognized chunk
///   extensions") but the size line is capped at `maxChunkLineBytes` and may not hold control
///   bytes;
/// - every line ends in CRLF exactly: a bare LF is refused (notes/reliability.md §4: "reject in
///   chunk framing"), and chunk data must be followed by CRLF;
/// - the trailer section is capped at `maxTrailerBytes` and `maxHeaderCount` fields, and its
///   lines are checked like header lines (token name, no space before the colon, no obs-fold,
///   no control bytes in values).
///
/// After `.end` the decoder stays complete; after `.invalid` it repeats the same error.
public struct ChunkedDecoder: Sendable, Equatable {
    enum State: UInt8, Sendable {
        case sizeDigits, sizeWhitespace, sizeExtension, sizeLineFeed
        case data, dataCarriageReturn, dataLineFeed
        case trailerLineStart, trailerName, trailerValue, trailerLineFeed, finalLineFeed
        case done, failed
    }

    private var state = State.sizeDigits
    /// The chunk size while its line is read, then the payload bytes still to come.
    private var size: UInt64 = 0
    private var digits = 0
    private var lineBytes = 0
    private var trailerBytes = 0
    private var trailerCount = 0
    private var failure = HTTP1Error.invalidChunkSize
    private let maxLineBytes: Int
    private let maxTrailerBytes: Int
    private let maxTrailerCount: Int

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        maxLineBytes = limits.maxChunkLineBytes
        maxTrailerBytes = limits.maxTrailerBytes
        maxTrailerCount = limits.maxHeaderCount
    }

    /// True once the last chunk and the trailer section have been consumed.
    public var isComplete: Bool { state == .done }

    /// Consumes a prefix of `input` and says what it was. See `BodyStep`.
    public mutating func advance(_ input: UnsafeRawBufferPointer) -> BodyStep {
        switch state {
        case .done: return .end(consumed: 0)
        case .failed: return .invalid(failure)
        default: break
        }
        guard let bytes = RawBytes(input) else { return .needMore }
        var offset = 0
        var trailerRunStart = -1
        while offset < bytes.count {
            if state == .data {
                let take = Int(min(size, UInt64(bytes.count - offset)))
                size -= UInt64(take)
                if size == 0 { state = .dataCarriageReturn }
                return .data(offset: offset, count: take)
            }
            let byte = bytes[offset]
            if state == .trailerLineStart, byte == Byte.cr, trailerRunStart >= 0 {
                // Hand over the trailer lines first; the final CRLF comes in the next step.
                return .trailers(offset: trailerRunStart, count: offset - trailerRunStart)
            }
            if trailerRunStart < 0, isTrailerLineByte(byte) {
                trailerRunStart = offset
            }
            do {
                try consume(byte)
            } catch {
                state = .failed
                failure = error
                return .invalid(error)
            }
            offset += 1
            if state == .done { return .end(consumed: offset) }
        }
        if trailerRunStart >= 0 {
            return .trailers(offset: trailerRunStart, count: bytes.count - trailerRunStart)
        }
        return .needMore
    }

    /// Walks `input` to its end or to the end of the body, for a forwarder that only needs to
    /// know how many bytes belong to the body.
    public mutating func consume(_ input: UnsafeRawBufferPointer) -> BodyProgress {
        var position = 0
        while true {
            switch advance(UnsafeRawBufferPointer(rebasing: input[position...])) {
            case .data(let offset, let count), .trailers(let offset, let count):
                position += offset + count
            case .end(let consumed):
                return .end(consumed: position + consumed)
            case .needMore:
                return .needMore
            case .invalid(let error):
                return .invalid(error)
            }
        }
    }

    /// True when `byte`, read in the current state, belongs to a trailer field line (as opposed
    /// to the size lines before the trailer section or the empty line that ends it).
    private func isTrailerLineByte(_ byte: UInt8) -> Bool {
        switch state {
        case .trailerName, .trailerValue, .trailerLineFeed: true
        case .trailerLineStart: byte != Byte.cr
        default: false
        }
    }

    /// One framing byte (anything but chunk data).
    private mutating func consume(_ byte: UInt8) throws(HTTP1Error) {
        switch state {
        case .sizeDigits, .sizeWhitespace, .sizeExtension, .sizeLineFeed:
            lineBytes += 1
            guard lineBytes <= maxLineBytes else { throw .chunkLineTooLong }
            try consumeSizeLine(byte)
        case .data:
            preconditionFailure("chunk data is consumed in bulk by advance()")
        case .dataCarriageReturn:
            guard byte == Byte.cr else { throw .chunkDataNotTerminated }
            state = .dataLineFeed
        case .dataLineFeed:
            guard byte == Byte.lf else { throw .chunkDataNotTerminated }
            state = .sizeDigits
            size = 0
            digits = 0
            lineBytes = 0
        case .trailerLineStart, .trailerName, .trailerValue, .trailerLineFeed, .finalLineFeed:
            trailerBytes += 1
            guard trailerBytes <= maxTrailerBytes else { throw .trailersTooLarge }
            try consumeTrailer(byte)
        case .done, .failed:
            preconditionFailure("advance() returns before consuming in a final state")
        }
    }

    private mutating func consumeSizeLine(_ byte: UInt8) throws(HTTP1Error) {
        switch state {
        case .sizeDigits:
            if let value = Self.hexValue(byte) {
                guard digits < 16 else { throw .chunkSizeTooLarge }
                size = size << 4 | UInt64(value)
                digits += 1
                guard size <= UInt64(Int64.max) else { throw .chunkSizeTooLarge }
                return
            }
            guard digits > 0 else { throw byte == Byte.lf ? .bareLF : .invalidChunkSize }
            switch byte {
            case Byte.semicolon: state = .sizeExtension
            case Byte.space, Byte.tab: state = .sizeWhitespace
            case Byte.cr: state = .sizeLineFeed
            case Byte.lf: throw .bareLF
            default: throw .invalidChunkSize
            }
        case .sizeWhitespace:
            // BWS is only allowed before the ";" of an extension.
            switch byte {
            case Byte.space, Byte.tab: break
            case Byte.semicolon: state = .sizeExtension
            case Byte.lf: throw .bareLF
            default: throw .invalidChunkSize
            }
        case .sizeExtension:
            switch byte {
            case Byte.cr: state = .sizeLineFeed
            case Byte.lf: throw .bareLF
            case Byte.tab: break
            case 0..<0x20, 0x7F: throw .invalidChunkExtension
            default: break
            }
        case .sizeLineFeed:
            guard byte == Byte.lf else { throw .bareCR }
            lineBytes = 0
            state = size == 0 ? .trailerLineStart : .data
        default:
            preconditionFailure("not a size-line state")
        }
    }

    private mutating func consumeTrailer(_ byte: UInt8) throws(HTTP1Error) {
        switch state {
        case .trailerLineStart:
            switch byte {
            case Byte.cr: state = .finalLineFeed
            case Byte.lf: throw .bareLF
            case Byte.space, Byte.tab: throw .obsFold
            default:
                guard ASCII.isTokenChar(byte) else { throw .invalidHeaderName }
                trailerCount += 1
                guard trailerCount <= maxTrailerCount else { throw .tooManyTrailers }
                state = .trailerName
            }
        case .trailerName:
            if ASCII.isTokenChar(byte) { return }
            switch byte {
            case Byte.colon: state = .trailerValue
            case Byte.space, Byte.tab: throw .whitespaceBeforeColon
            case Byte.lf: throw .bareLF
            default: throw .invalidHeaderName
            }
        case .trailerValue:
            switch byte {
            case Byte.cr: state = .trailerLineFeed
            case Byte.lf: throw .bareLF
            case Byte.tab: break
            case 0..<0x20, 0x7F: throw .invalidHeaderValue
            default: break
            }
        case .trailerLineFeed:
            guard byte == Byte.lf else { throw .bareCR }
            state = .trailerLineStart
        case .finalLineFeed:
            guard byte == Byte.lf else { throw .bareCR }
            state = .done
        default:
            preconditionFailure("not a trailer state")
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

import DevmeshBytes

/// Parses field lines (RFC 9112 §5: `field-name ":" OWS field-value OWS CRLF`) into caller-owned
/// slots. Shared by request heads, response heads and trailer blocks.
enum FieldLineParser {
    /// How the lines are interpreted beyond their syntax.
    enum Meaning {
        case request
        case response
        /// Trailer fields: syntax only. Framing fields in a trailer mean nothing (RFC 9110 §6.5.1).
        case trailers
    }

    /// Parses every line in `from..<end` into `storage` and returns how many there were.
    ///
    /// `end` is where the lines stop: the CR of the empty line that ends a head, or the end of a
    /// trailer block. Every line must end in CRLF before `end`.
    static func parse(_ bytes: RawBytes, from: Int, to end: Int, into storage: HeaderStorage,
                      maxCount: Int, meaning: Meaning, facts: inout FieldFacts) throws(HTTP1Error) -> Int {
        assert(maxCount <= storage.capacity)
        var count = 0
        var lineStart = from
        while lineStart < end {
            // RFC 9112 §5.2: a line starting with whitespace is an obs-fold continuation.
            let first = bytes[lineStart]
            if first == Byte.space || first == Byte.tab { throw .obsFold }

            let nameEnd = bytes.firstNonToken(from: lineStart, to: end)
            guard nameEnd < end else { throw .unterminatedLine }
            let stop = bytes[nameEnd]
            guard stop == Byte.colon else {
                // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon."
                throw stop == Byte.space || stop == Byte.tab ? .whitespaceBeforeColon : .invalidHeaderName
            }
            guard nameEnd > lineStart else { throw .invalidHeaderName }

            var valueStart = nameEnd + 1
            while valueStart < end, ASCII.isOWS(bytes[valueStart]) { valueStart += 1 }
            let carriageReturn = try lineEnd(bytes, from: valueStart, to: end)
            var valueEnd = carriageReturn
            while valueEnd > valueStart, ASCII.isOWS(bytes[valueEnd - 1]) { valueEnd -= 1 }

            guard count < maxCount else {
                throw meaning == .trailers ? .tooManyTrailers : .tooManyHeaders
            }
            let name = bytes.view(lineStart, nameEnd)
            let value = bytes.view(valueStart, valueEnd)
            let kind = KnownHeader(name: name)
            var hopByHop = false
            if meaning != .trailers {
                hopByHop = try facts.record(kind, value: value, index: count, isRequest: meaning == .request)
                if hopByHop { facts.hopByHopCount += 1 }
            }
            let nextLine = carriageReturn + 2
            // SAFETY: count < maxCount <= storage.capacity, so both slots exist.
            storage.fieldSlots[count] = HeaderField(name: name, value: value)
            storage.lineSlots[count] = HeaderLine(lineStart: UInt32(truncatingIfNeeded: lineStart),
                                                  lineLength: UInt32(truncatingIfNeeded: nextLine - lineStart),
                                                  kind: kind, hopByHop: hopByHop)
            count += 1
            lineStart = nextLine
        }
        return count
    }

    /// The offset of the CR that ends a line whose remaining text (a field value or a reason
    /// phrase) starts at `from`, after checking that text: HTAB, SP, VCHAR and obs-text only
    /// (RFC 9110 §5.5), so NUL, other control bytes, DEL and a bare CR are refused.
    static func lineEnd(_ bytes: RawBytes, from: Int, to end: Int) throws(HTTP1Error) -> Int {
        var offset = from
        while true {
            offset = bytes.firstControlByte(from: offset, to: end, below: 0x20)
            guard offset < end else { throw .unterminatedLine }
            switch bytes[offset] {
            case Byte.tab:
                offset += 1
            case Byte.cr:
                guard offset + 1 < end else { throw .unterminatedLine }
                guard bytes[offset + 1] == Byte.lf else { throw .bareCR }
                return offset
            case Byte.lf:
                throw .bareLF
            default:
                throw .invalidHeaderValue
            }
        }
    }
}

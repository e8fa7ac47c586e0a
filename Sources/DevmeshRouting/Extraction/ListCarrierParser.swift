/// Parsers for the carriers whose value is a comma-separated list of `key=value` members:
/// W3C `baggage`, W3C `tracestate` and Jaeger `jaeger-baggage`.
///
/// Repeated lines of a list header are one list joined with `,` (RFC 9110 §5.3), and a member
/// never contains `,`, so parsing each line in turn is the same as parsing the joined value:
/// nothing is copied to join lines. Counters that the specs apply to the whole list
/// (`membersSoFar`) are carried across lines by the caller.
enum ListCarrierParser {
    /// W3C Baggage (`baggage-string = list-member 0*179( OWS "," OWS list-member )`,
    /// `list-member = key OWS "=" OWS value *( OWS ";" OWS property )`), carriers.md §2:
    /// skip empty members; cut at the first `;` (properties are ignored); split at the first
    /// `=` (values may contain more); trim OWS around key and value; compare the key exactly
    /// (no case folding is defined for baggage keys); percent-decode the value. A member that
    /// fails any check is skipped alone. Every matching member is offered, duplicates included:
    /// their order is meaningful.
    static func baggage(_ value: UnsafeRawBufferPointer, keyNames: CompiledNameList,
                        membersSoFar: inout Int, into candidates: RoutingKeyCandidates) {
        var members = MemberCursor(value)
        while let member = members.next() {
            // A member holding `=` is not empty; only the others need the whitespace check.
            if member.equals == nil, member.bytes.trimmingOWS().isEmpty { continue }
            membersSoFar += 1
            guard membersSoFar <= RoutingKeyExtractor.maxBaggageMembers else { return }
            guard let equals = member.equals,
                  let position = keyNames.indexOfExact(member.bytes.slice(0..<equals).trimmingOWS())
            else { continue }
            let valueEnd = member.semicolon ?? member.bytes.count
            candidates.offer(member.bytes.slice(equals + 1..<valueEnd).trimmingOWS(),
                             escapes: .percentDecode, carrier: .baggage, position: position)
        }
    }

    /// W3C Trace Context `tracestate` (`list-member = (key "=" value) / OWS`), carriers.md §3:
    /// members may be surrounded by OWS but there is none around `=`; values are opaque, so
    /// there is no percent-decoding. Read whether or not `traceparent` is valid: a documented
    /// deviation from the spec for the Signadot browser extension, which sends `tracestate`
    /// alone.
    static func tracestate(_ value: UnsafeRawBufferPointer, keyNames: CompiledNameList,
                           membersSoFar: inout Int, into candidates: RoutingKeyCandidates) {
        var members = MemberCursor(value)
        while let rawMember = members.next() {
            let member = rawMember.bytes.trimmingOWS()
            if member.isEmpty { continue }
            membersSoFar += 1
            guard membersSoFar <= RoutingKeyExtractor.maxTracestateMembers else { return }
            guard let equals = member.firstIndex(ofByte: UInt8(ascii: "=")),
                  let position = keyNames.indexOfExact(member.slice(0..<equals))
            else { continue }
            candidates.offer(member.slice(equals + 1..<member.count), escapes: .verbatim,
                             carrier: .tracestate, position: position)
        }
    }

    /// Jaeger `jaeger-baggage: k1=v1, k2=v2` (carriers.md §5): split on `,`, then on the first
    /// `=`, trimming whitespace around key and value. `%XX` is decoded when present.
    static func jaegerBaggage(_ value: UnsafeRawBufferPointer, keyNames: CompiledNameList,
                              into candidates: RoutingKeyCandidates) {
        var members = MemberCursor(value)
        while let member = members.next() {
            // `equals` is the first `=` unless a `;` comes first, and then the key (which would
            // contain the `;`) cannot be a token anyway.
            guard let equals = member.equals,
                  let position = keyNames.indexOfExact(member.bytes.slice(0..<equals).trimmingOWS())
            else { continue }
            candidates.offer(member.bytes.slice(equals + 1..<member.bytes.count).trimmingOWS(),
                             escapes: .percentDecode, carrier: .jaegerBaggage, position: position)
        }
    }
}

/// One `,`-separated member of a list header, with the separators found while scanning it.
struct ListMember {
    /// The member, untrimmed (possibly empty or whitespace only).
    var bytes: UnsafeRawBufferPointer
    /// Offset in `bytes` of the first `=` that comes before any `;`.
    var equals: Int?
    /// Offset in `bytes` of the first `;` (W3C baggage properties start there).
    var semicolon: Int?
}

/// Walks the members of one header line without copying, finding the member's end, its
/// first `=` and its first `;` in a single pass over the bytes.
struct MemberCursor {
    private let line: UnsafeRawBufferPointer
    private var start = 0
    private var finished = false

    init(_ line: UnsafeRawBufferPointer) {
        self.line = line
    }

    @inline(__always)
    mutating func next() -> ListMember? {
        guard !finished else { return nil }
        // `,` 0x2C, `;` 0x3B and `=` 0x3D are all below 0x40, so most bytes (letters) are
        // passed over by one comparison, the rest by one mask test.
        let separators: UInt64 = 1 << 0x2C | 1 << 0x3B | 1 << 0x3D
        var equals = -1
        var semicolon = -1
        var index = start
        let count = line.count
        while index < count {
            let byte = line[index]
            if byte < 0x40, (separators >> UInt64(byte)) & 1 != 0 {
                if byte == UInt8(ascii: ",") { break }
                if byte == UInt8(ascii: ";") {
                    if semicolon < 0 { semicolon = index }
                } else if equals < 0, semicolon < 0 {
                    equals = index
                }
            }
            index += 1
        }
        let member = ListMember(bytes: line.slice(start..<index),
                                equals: equals < 0 ? nil : equals - start,
                                semicolon: semicolon < 0 ? nil : semicolon - start)
        if index == count { finished = true } else { start = index + 1 }
        return member
    }
}

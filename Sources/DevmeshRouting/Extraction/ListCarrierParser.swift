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
        while let rawMember = members.next() {
            let member = rawMember.trimmingOWS()
            if member.isEmpty { continue }
            membersSoFar += 1
            guard membersSoFar <= RoutingKeyExtractor.maxBaggageMembers else { return }
            let keyAndValue = member.firstIndex(ofByte: UInt8(ascii: ";")).map { member.slice(0..<$0) } ?? member
            guard let equals = keyAndValue.firstIndex(ofByte: UInt8(ascii: "=")),
                  let position = keyNames.indexOfExact(keyAndValue.slice(0..<equals).trimmingOWS())
            else { continue }
            candidates.offer(keyAndValue.slice(equals + 1..<keyAndValue.count).trimmingOWS(),
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
            let member = rawMember.trimmingOWS()
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
            guard let equals = member.firstIndex(ofByte: UInt8(ascii: "=")),
                  let position = keyNames.indexOfExact(member.slice(0..<equals).trimmingOWS())
            else { continue }
            candidates.offer(member.slice(equals + 1..<member.count).trimmingOWS(),
                             escapes: .percentDecode, carrier: .jaegerBaggage, position: position)
        }
    }
}

/// Walks the `,`-separated members of one header line without copying. Members are returned
/// untrimmed; empty ones (`,,`) are returned too and skipped by the caller.
struct MemberCursor {
    private let line: UnsafeRawBufferPointer
    private var start = 0
    private var finished = false

    init(_ line: UnsafeRawBufferPointer) {
        self.line = line
    }

    @inline(__always)
    mutating func next() -> UnsafeRawBufferPointer? {
        guard !finished else { return nil }
        var end = start
        while end < line.count, line[end] != UInt8(ascii: ",") { end += 1 }
        let member = line.slice(start..<end)
        if end == line.count { finished = true } else { start = end + 1 }
        return member
    }
}

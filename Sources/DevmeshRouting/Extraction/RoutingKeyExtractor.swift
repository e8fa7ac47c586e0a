import DevmeshBytes

/// Finds the routing keys a request carries (notes/carriers.md), in precedence order.
///
/// Built once per route table from a `CarrierSpec` and shared read-only by every worker.
/// `extract` reads the header list once, in arrival order:
///
/// 1. A name that is too short, or whose lower-cased first byte starts no carrier name, is
///    skipped after two cheap checks. A request without any carrier costs just this pass.
/// 2. Otherwise the name is compared (ASCII case-insensitively: HTTP/1.1 names may come in any
///    case, RFC 9110 §5.1) with the custom headers and the carrier names, and the value is
///    handed to the matching carrier parser.
/// 3. Every key found is offered to `RoutingKeyCandidates` with its rank (carrier precedence,
///    then the key name's position in `keyNames`); the list keeps them ordered, de-duplicated
///    and capped at eight.
///
/// Extraction never fails: a malformed member, value or header yields no key from that member.
/// Header values are only read, never modified: carriers are forwarded unchanged.
public final class RoutingKeyExtractor: Sendable {
    /// Baggage members parsed per request across all `baggage` lines. The W3C grammar allows
    /// `list-member 0*179( OWS "," OWS list-member )`, i.e. 180 members. (Its 64-member /
    /// 8192-byte figure is what a platform must at least propagate, not a parsing limit.)
    public static let maxBaggageMembers = 180
    /// `tracestate` members parsed per request across all lines (W3C Trace Context:
    /// "There can be a maximum of 32 list-members in a list").
    public static let maxTracestateMembers = 32

    /// The configuration this extractor was built from.
    public let spec: CarrierSpec

    /// Key names as configured: matched exactly inside `baggage`, `tracestate` and
    /// `jaeger-baggage` members, whose keys do not fold case.
    private let keyNames: CompiledNameList
    /// Key names lower-cased: matched against the tail of `uberctx-<name>`, `ot-baggage-<name>`
    /// and `baggage-<name>` header names, which fold case.
    private let keyNamesInHeaderNames: CompiledNameList
    /// Custom header names, lower-cased.
    private let customHeaders: CompiledNameList
    /// Names shorter than this cannot be a carrier.
    private let shortestCarrierName: Int
    /// Bit set of the lower-cased first bytes that start a carrier name (`b`, `t`, `u`, `o`,
    /// `j` and the first bytes of custom headers), as a 128-bit mask.
    private let firstByteMaskLow: UInt64
    private let firstByteMaskHigh: UInt64

    /// Builds the extractor. The spec is expected to be valid (`RouteTable.build` checks it);
    /// a name that is not a token simply never matches.
    public init(_ spec: CarrierSpec) {
        self.spec = spec
        keyNames = CompiledNameList(spec.keyNames, foldCase: false)
        keyNamesInHeaderNames = CompiledNameList(spec.keyNames, foldCase: true)
        customHeaders = CompiledNameList(spec.customHeaders, foldCase: true)

        var shortest = HeaderName.baggage.utf8CodeUnitCount
        if customHeaders.count > 0 { shortest = min(shortest, max(1, customHeaders.shortestLength)) }
        shortestCarrierName = shortest

        var low: UInt64 = 0
        var high: UInt64 = 0
        for byte in Array("btuoj".utf8) + customHeaders.firstBytes where byte < 0x80 {
            if byte < 0x40 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 0x40) }
        }
        firstByteMaskLow = low
        firstByteMaskHigh = high
    }

    /// Resets `candidates` and fills it with the routing keys found in `headers`.
    public func extract(from headers: UnsafeBufferPointer<HeaderField>,
                        into candidates: RoutingKeyCandidates) {
        candidates.reset()
        var state = ExtractionState()
        for field in headers {
            let name = field.name
            guard name.count >= shortestCarrierName else { continue }
            let first = ASCII.lower(name[0])
            guard RoutingKeyAlphabet.inMask(first, low: firstByteMaskLow, high: firstByteMaskHigh)
            else { continue }
            if customHeaders.count > 0 {
                offerCustomHeader(field, state: &state, into: candidates)
            }
            offerCarrier(field, firstByte: first, state: &state, into: candidates)
        }
    }

    /// Per-request counters that span header lines.
    private struct ExtractionState {
        /// Bit `i` set once custom header `i` has been seen: its first line wins.
        var customHeadersSeen: UInt64 = 0
        var baggageMembers = 0
        var tracestateMembers = 0
    }

    /// Custom headers (carriers.md §6): the whole trimmed value, no list syntax, no decoding,
    /// first line wins (even when that line holds no valid key).
    @inline(__always)
    private func offerCustomHeader(_ field: HeaderField, state: inout ExtractionState,
                                   into candidates: RoutingKeyCandidates) {
        guard let index = customHeaders.indexOfCaseInsensitive(field.name),
              index < UInt64.bitWidth else { return }
        let bit: UInt64 = 1 << UInt64(index)
        guard state.customHeadersSeen & bit == 0 else { return }
        state.customHeadersSeen |= bit
        candidates.offer(field.value.trimmingOWS(), escapes: .verbatim,
                         carrier: .customHeader, position: index)
    }

    @inline(__always)
    private func offerCarrier(_ field: HeaderField, firstByte: UInt8, state: inout ExtractionState,
                              into candidates: RoutingKeyCandidates) {
        let name = field.name
        switch firstByte {
        case UInt8(ascii: "b"):
            // The exact name `baggage` is W3C; the prefix `baggage-` is Brave (carriers.md §5).
            if ASCII.equalsCaseInsensitive(name, lowercased: HeaderName.baggage) {
                ListCarrierParser.baggage(field.value, keyNames: keyNames,
                                          membersSoFar: &state.baggageMembers, into: candidates)
            } else {
                offerNamedField(field, prefix: HeaderName.bravePrefix, carrier: .braveBaggage,
                                into: candidates)
            }
        case UInt8(ascii: "t"):
            if ASCII.equalsCaseInsensitive(name, lowercased: HeaderName.tracestate) {
                ListCarrierParser.tracestate(field.value, keyNames: keyNames,
                                             membersSoFar: &state.tracestateMembers, into: candidates)
            }
        case UInt8(ascii: "u"):
            offerNamedField(field, prefix: HeaderName.uberctxPrefix, carrier: .uberctx, into: candidates)
        case UInt8(ascii: "o"):
            offerNamedField(field, prefix: HeaderName.otBaggagePrefix, carrier: .otBaggage,
                            into: candidates)
        case UInt8(ascii: "j"):
            if ASCII.equalsCaseInsensitive(name, lowercased: HeaderName.jaegerBaggage) {
                ListCarrierParser.jaegerBaggage(field.value, keyNames: keyNames, into: candidates)
            }
        default:
            break
        }
    }

    /// `<prefix><key name>: <value>` carriers (Jaeger `uberctx-`, OpenTracing `ot-baggage-`,
    /// Brave `baggage-`): the key name is the rest of the header name, matched case-insensitively
    /// because the header name folds. Whether clients percent-encode these values varies, so
    /// `%XX` is decoded when present (carriers.md §5).
    @inline(__always)
    private func offerNamedField(_ field: HeaderField, prefix: StaticString, carrier: RoutingKeyCarrier,
                                 into candidates: RoutingKeyCandidates) {
        let name = field.name
        let prefixLength = prefix.utf8CodeUnitCount
        guard name.count > prefixLength, ASCII.hasPrefixCaseInsensitive(name, lowercased: prefix),
              let position = keyNamesInHeaderNames.indexOfCaseInsensitive(
                  name.slice(prefixLength..<name.count))
        else { return }
        candidates.offer(field.value.trimmingOWS(), escapes: .percentDecode,
                         carrier: carrier, position: position)
    }
}

/// Carrier header names, lower case.
enum HeaderName {
    static let baggage: StaticString = "baggage"
    static let tracestate: StaticString = "tracestate"
    static let jaegerBaggage: StaticString = "jaeger-baggage"
    static let uberctxPrefix: StaticString = "uberctx-"
    static let otBaggagePrefix: StaticString = "ot-baggage-"
    static let bravePrefix: StaticString = "baggage-"
}

/// Where a routing key was found. Listed in precedence order (notes/carriers.md §8): when two
/// carriers hold keys, the one declared first ranks first. The raw value is that rank.
public enum RoutingKeyCarrier: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A header configured in `CarrierSpec.customHeaders`; the whole trimmed value is the key.
    case customHeader
    /// W3C Baggage (`baggage`), member `<key name>=<value>`, percent-decoded.
    case baggage
    /// W3C Trace Context `tracestate`, member `<key name>=<value>`, taken verbatim. Read even
    /// without a valid `traceparent` (a documented deviation: the Signadot browser extension
    /// sends `tracestate` alone).
    case tracestate
    /// Jaeger `uberctx-<key name>`.
    case uberctx
    /// OpenTracing text map `ot-baggage-<key name>`.
    case otBaggage
    /// Brave/Sleuth prefixed field `baggage-<key name>`.
    case braveBaggage
    /// Jaeger ad-hoc baggage `jaeger-baggage: k1=v1, k2=v2`.
    case jaegerBaggage

    /// A stable lower-case label for logs, metrics and access logs.
    public var label: StaticString {
        switch self {
        case .customHeader: "custom-header"
        case .baggage: "baggage"
        case .tracestate: "tracestate"
        case .uberctx: "uberctx"
        case .otBaggage: "ot-baggage"
        case .braveBaggage: "brave-baggage"
        case .jaegerBaggage: "jaeger-baggage"
        }
    }

    public var description: String { label.description }
}

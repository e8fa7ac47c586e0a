import DevmeshRouting
import FuzzSupport

/// Builds a `RoutingSpec` (and lookup probes) from fuzzer bytes.
struct SpecReader {
    private var reader: ByteReader

    init(_ reader: ByteReader) {
        self.reader = reader
    }

    /// Key bytes, plus the characters that break keys: `+`, `/`, space, `%`, non-ASCII.
    static let keyAlphabet = Array("abcxyz019._-ABZ+/ %é".utf8)
    /// Host bytes: names, IPv4/IPv6 literals, ports, brackets, case, junk.
    static let hostAlphabet = Array("abwebAPI.-_019f:[]: x/".utf8)
    /// Token bytes and a few that are not (space, `,`, `=`, `"`, non-ASCII).
    static let nameAlphabet = Array("sd-routingkeyXK_.!~, =\"é".utf8)

    mutating func int(below bound: Int) -> Int {
        bound <= 1 ? 0 : reader.int(below: bound)
    }

    mutating func spec() -> RoutingSpec {
        var carriers = CarrierSpec()
        if reader.bool() {
            carriers.keyNames = (0..<int(below: 4)).map { _ in reader.string(maxLength: 16, alphabet: Self.nameAlphabet) }
            carriers.customHeaders = (0..<int(below: 3)).map { _ in reader.string(maxLength: 12, alphabet: Self.nameAlphabet) }
            if reader.byte() == 0xFF { carriers.keyNames += (0..<65).map { "k\($0)" } }
        }
        let services = (0..<int(below: 5)).map { _ in service() }
        return RoutingSpec(services: services, carriers: carriers)
    }

    private mutating func service() -> ServiceSpec {
        let names = ["web", "api", "", "web", "Web", "svc\u{7}"]
        let name = names[int(below: names.count)]
        let hosts = (0..<int(below: 4)).map { _ in host() }
        let baseline = (0..<int(below: 3)).map { _ in endpoint() }
        let routes = (0..<int(below: 5)).map { _ in route() }
        return ServiceSpec(name: name, hosts: hosts, baseline: baseline, routes: routes)
    }

    private mutating func route() -> RouteSpec {
        let key = reader.string(maxLength: reader.byte() == 0xFE ? 140 : 14, alphabet: Self.keyAlphabet)
        let sandboxes: [String?] = [nil, "sb", "", "sb\n\"quoted\""]
        let endpoints = (0..<int(below: 3)).map { _ in endpoint() }
        return RouteSpec(routingKey: key, sandbox: sandboxes[int(below: sandboxes.count)], endpoints: endpoints,
                         fallback: reader.bool() ? .baseline : .fail)
    }

    private mutating func endpoint() -> EndpointSpec {
        let hosts = ["10.0.0.1", "fd00::1", "backend", "", "a b", "tab\t", "\u{7F}"]
        let port = reader.byte() == 0 ? 0 : UInt16(1 + int(below: 65535))
        return EndpointSpec(host: hosts[int(below: hosts.count)], port: port)
    }

    private mutating func host() -> String {
        reader.string(maxLength: reader.byte() == 0xFD ? 260 : 12, alphabet: Self.hostAlphabet)
    }

    /// A key to look up: often one from the spec (maybe with its case changed), else random.
    mutating func probeKey(_ spec: RoutingSpec) -> String {
        let keys = spec.services.flatMap(\.routes).map(\.routingKey)
        if !keys.isEmpty, reader.bool() {
            let key = keys[int(below: keys.count)]
            return reader.bool() ? key : key.uppercased()
        }
        return reader.string(maxLength: 14, alphabet: Self.keyAlphabet)
    }

    /// A Host value to look up: a configured one dressed up (case, port, trailing dot, OWS), or random.
    mutating func probeHost(_ spec: RoutingSpec) -> String {
        let hosts = spec.services.flatMap(\.hosts)
        guard !hosts.isEmpty, reader.bool() else { return reader.string(maxLength: 14, alphabet: Self.hostAlphabet) }
        var host = hosts[int(below: hosts.count)]
        if reader.bool() { host = host.uppercased() }
        let bare = host.filter { $0 == ":" }.count > 1 && !host.hasPrefix("[")
        if bare { host = "[\(host)]" }
        switch int(below: 4) {
        case 0: host += ":8080"
        case 1: host += bare || host.hasSuffix("]") ? "" : "."
        case 2: host = " \(host)\t"
        default: break
        }
        return host
    }
}

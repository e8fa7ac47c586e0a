/// Host header value -> service index, for gateway mode where one listener fronts several
/// services.
///
/// Configured names are normalised once (lower case, no trailing dot, IPv6 literals in
/// brackets); a request's Host value is reduced to the same shape with views only (port and
/// one trailing dot dropped) and looked up case-insensitively, so no byte is copied or
/// lower-cased per request.
struct HostIndex: Sendable {
    private let table: FlatKeyTable
    private let defaultService: Int?

    /// - Parameter hosts: normalised host names (see `normalize`) and their service index.
    init(hosts: [(name: [UInt8], service: Int)], defaultService: Int?) {
        table = FlatKeyTable(hosts.map { ($0.name, 0, UInt32($0.service)) }, matching: .asciiCaseInsensitive)
        self.defaultService = defaultService
    }

    /// The service for a Host header value (RFC 9110 §7.2: `Host = uri-host [ ":" port ]`,
    /// where `uri-host` may be an `IP-literal` in brackets), else the default service, else nil.
    @inline(__always)
    func service(forHost value: UnsafeRawBufferPointer) -> Int? {
        let host = Self.hostPart(of: value)
        if host.isEmpty { return defaultService }
        return table.value(for: host) ?? defaultService
    }

    /// The `uri-host` of a Host value: OWS trimmed, `:port` removed (after the `]` of an IPv6
    /// literal, which keeps its brackets), one trailing dot of an absolute name removed.
    static func hostPart(of value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var host = value.trimmingOWS()
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(ofByte: UInt8(ascii: "]")) else { return host }
            return host.slice(0..<close + 1)
        }
        if let colon = host.firstIndex(ofByte: UInt8(ascii: ":")) { host = host.slice(0..<colon) }
        if host.last == UInt8(ascii: ".") { host = host.slice(0..<host.count - 1) }
        return host
    }

    /// Normalises a configured host name to the shape `hostPart` produces, or says what is
    /// wrong with it. Accepted: a DNS name or IPv4 address (`[a-z0-9._-]`, at most 253 bytes
    /// after one trailing dot is removed), or an IPv6 literal with or without brackets.
    static func normalize(_ configured: String) -> Result<[UInt8], HostProblem> {
        var bytes = configured.utf8.map(ByteHash.lowerASCII)
        if bytes.isEmpty { return .failure(.empty) }
        let isHex: (UInt8) -> Bool = { RoutingKeyAlphabet.hexValue($0) != nil }
        if bytes.first == UInt8(ascii: "[") {
            guard bytes.last == UInt8(ascii: "]"), bytes.count > 2,
                  bytes.dropFirst().dropLast().allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return .failure(.invalidIPv6Literal) }
            return .success(bytes)
        }
        let colons = bytes.count(where: { $0 == UInt8(ascii: ":") })
        if colons == 1 { return .failure(.hasPort) }
        if colons > 1 {
            guard bytes.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return .failure(.invalidIPv6Literal) }
            return .success([UInt8(ascii: "[")] + bytes + [UInt8(ascii: "]")])
        }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty else { return .failure(.empty) }
        guard bytes.count <= 253 else { return .failure(.tooLong) }
        guard bytes.allSatisfy({ RoutingKeyAlphabet.isKeyByte($0) }) else { return .failure(.invalidCharacter) }
        return .success(bytes)
    }

    enum HostProblem: String, Error {
        case empty = "empty"
        case hasPort = "must not include a port"
        case invalidIPv6Literal = "not a valid IPv6 literal"
        case tooLong = "longer than 253 bytes"
        case invalidCharacter = "only letters, digits, '.', '-' and '_' are allowed"
    }
}

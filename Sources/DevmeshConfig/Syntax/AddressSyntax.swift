import DevmeshRouting

/// `host:port` spellings. IPv6 literals need brackets (`[::1]:8080`, as in URIs, RFC 3986
/// §3.2.2) because their colons would otherwise be ambiguous with the port separator.
enum AddressSyntax {
    /// A listener: IP literal or `localhost`, port 0–65535 (0 = the kernel picks).
    static func listenAddress(_ text: String) throws(SyntaxProblem) -> ListenAddress {
        let (host, portText) = try splitHostPort(text)
        let port = try parsePort(portText, allowZero: true)
        if host.isEmpty {
            throw SyntaxProblem("the host is empty (use 0.0.0.0 or [::] to listen on every interface)")
        }
        let lowered = host.lowercased()
        guard lowered == "localhost" || IPLiteral.isIPv4(lowered) || IPLiteral.isIPv6(lowered) else {
            throw SyntaxProblem("'\(host)' is not an IP address or localhost "
                + "(a listener never resolves names)")
        }
        return ListenAddress(host: lowered, port: port)
    }

    /// An upstream endpoint: host name or IP literal, port 1–65535. Names are lower-cased
    /// (DNS is case-insensitive) so duplicates are found whatever the spelling.
    static func endpoint(_ text: String) throws(SyntaxProblem) -> EndpointSpec {
        let (host, portText) = try splitHostPort(text)
        let port = try parsePort(portText, allowZero: false)
        let lowered = host.lowercased()
        try checkHost(lowered, original: host)
        return EndpointSpec(host: lowered, port: port)
    }

    /// A host name that selects a service by the request's Host: a DNS name or an IPv4
    /// literal, without a port. Lower-cased: Host matching is case-insensitive (RFC 9110 §4.2.3).
    static func serviceHost(_ text: String) throws(SyntaxProblem) -> String {
        if text.contains(":") {
            throw SyntaxProblem("'\(text)' has a port or is IPv6: list host names only "
                + "(the port of the Host header is ignored when selecting a service)")
        }
        let lowered = text.lowercased()
        try checkHost(lowered, original: text)
        return lowered
    }

    /// Splits at the last colon, or after the closing bracket of an IPv6 literal. The host
    /// comes back without brackets.
    static func splitHostPort(_ text: String) throws(SyntaxProblem) -> (host: String, port: Substring) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw SyntaxProblem("'\(text)': missing ']' after the IPv6 address")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw SyntaxProblem("'\(text)': expected HOST:PORT, e.g. [::1]:8080")
            }
            guard IPLiteral.isIPv6(host) else {
                throw SyntaxProblem("'\(host)' is not a valid IPv6 address")
            }
            return (host, rest.dropFirst())
        }
        guard let colon = text.lastIndex(of: ":") else {
            throw SyntaxProblem("'\(text)': expected HOST:PORT, e.g. 127.0.0.1:8080")
        }
        let host = String(text[..<colon])
        if host.contains(":") {
            throw SyntaxProblem("'\(text)': an IPv6 address needs brackets, e.g. [::1]:8080")
        }
        return (host, text[text.index(after: colon)...])
    }

    /// A decimal port. `allowZero` only for listeners.
    static func parsePort(_ text: Substring, allowZero: Bool) throws(SyntaxProblem) -> UInt16 {
        let lowest = allowZero ? 0 : 1
        guard !text.isEmpty else { throw SyntaxProblem("the port is missing") }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw SyntaxProblem("port '\(text)' is not a number")
        }
        guard text.count <= 5, let port = Int(text), port >= lowest, port <= 65_535 else {
            throw SyntaxProblem("port \(text) is out of range (\(lowest)-65535)")
        }
        return UInt16(port)
    }

    /// Accepts an IPv4 or IPv6 literal or an RFC 1123 host name (already lower-cased).
    private static func checkHost(_ host: String, original: String) throws(SyntaxProblem) {
        if host.isEmpty { throw SyntaxProblem("the host is empty") }
        if host.contains(":") {
            guard IPLiteral.isIPv6(host) else {
                throw SyntaxProblem("'\(original)' is not a valid IPv6 address")
            }
            return
        }
        // A name made only of digits and dots is meant as an IPv4 address: hold it to that
        // grammar instead of letting "10.0.0.256" pass as a host name.
        if host.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= 0x30 && $0 <= 0x39) }) {
            guard IPLiteral.isIPv4(host) else {
                throw SyntaxProblem("'\(original)' is not a valid IPv4 address")
            }
            return
        }
        guard HostName.isValid(host) else {
            throw SyntaxProblem("'\(original)' is not a valid host name "
                + "(letters, digits and '-' in dot-separated labels of 1-63 characters)")
        }
    }
}

/// RFC 1123 §2.1 host names: dot-separated labels of letters, digits and hyphens, 1–63
/// characters each, not starting or ending with a hyphen, 253 characters in all.
enum HostName {
    static func isValid(_ name: String) -> Bool {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }  // fully qualified form
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = label.utf8
            guard (1...63).contains(bytes.count),
                  bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
            return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
    }
}

/// IP address literals, checked by grammar only (no libc: this module does no I/O).
enum IPLiteral {
    /// Dotted decimal, four parts 0–255, no leading zeros (`010` would be octal to inet_aton).
    static func isIPv4(_ text: some StringProtocol) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            let bytes = part.utf8
            guard (1...3).contains(bytes.count),
                  bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  bytes.count == 1 || bytes.first != UInt8(ascii: "0"),
                  let value = Int(part) else { return false }
            return value <= 255
        }
    }

    /// RFC 4291 §2.2 text forms: eight groups of 1–4 hex digits, one `::` standing for one or
    /// more zero groups, and an optional dotted IPv4 tail counting as two groups. Zone ids
    /// (`%eth0`) are not accepted.
    static func isIPv6(_ text: some StringProtocol) -> Bool {
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return false }
        var groupCount = 0
        for (halfIndex, half) in halves.enumerated() {
            if half.isEmpty { continue }
            let groups = half.split(separator: ":", omittingEmptySubsequences: false)
            for (index, group) in groups.enumerated() {
                let isLast = halfIndex == halves.count - 1 && index == groups.count - 1
                if isLast && group.contains(".") {
                    guard isIPv4(group) else { return false }
                    groupCount += 2
                    continue
                }
                guard (1...4).contains(group.utf8.count), group.utf8.allSatisfy(isHexDigit) else {
                    return false
                }
                groupCount += 1
            }
        }
        return halves.count == 2 ? groupCount <= 7 : groupCount == 8
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
    }
}

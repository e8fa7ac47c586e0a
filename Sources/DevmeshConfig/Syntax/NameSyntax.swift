/// Names and keys that end up in headers, logs, metrics and error bodies. Each alphabet is
/// the narrowest one the name's use allows, so nothing needs escaping later.
enum NameSyntax {
    /// Routing keys: `[A-Za-z0-9._-]`, 1–128 bytes (notes/carriers.md §7). A key outside it
    /// could never match, because the router discards such keys from requests.
    static func routingKey(_ text: String) throws(SyntaxProblem) -> String {
        try restrictedName(text, what: "routing key", maxBytes: 128)
    }

    /// Sandbox names are shown in error bodies and logs: the routing-key alphabet keeps them
    /// free of anything that would need quoting.
    static func sandboxName(_ text: String) throws(SyntaxProblem) -> String {
        try restrictedName(text, what: "sandbox name", maxBytes: 128)
    }

    /// Service names label metrics and logs.
    static func serviceName(_ text: String) throws(SyntaxProblem) -> String {
        try restrictedName(text, what: "service name", maxBytes: 64)
    }

    /// A header field name: an RFC 9110 §5.1 token, 1–128 bytes. Returned lower-cased, the
    /// form HTTP/2 requires (RFC 9113 §8.2.1) and the router compares against.
    static func headerName(_ text: String) throws(SyntaxProblem) -> String {
        guard !text.isEmpty, text.utf8.count <= 128 else {
            throw SyntaxProblem("a header name must be 1-128 characters")
        }
        if let bad = text.utf8.first(where: { !isTokenChar($0) }) {
            throw SyntaxProblem("'\(text)' is not a valid header name (\(describe(bad)) is not allowed; "
                + "RFC 9110 token characters only)")
        }
        return text.lowercased()
    }

    /// A key name searched in the carriers (`sd-routing-key`). It is a baggage key (token),
    /// a header-name suffix (`uberctx-<name>`), and a tracestate key, which is lower case
    /// (W3C Trace Context). Baggage keys compare case-sensitively, so an upper-case name
    /// would never match what tracers send: reject it instead of folding it silently.
    static func keyName(_ text: String) throws(SyntaxProblem) -> String {
        let name = try headerName(text)
        guard name == text else {
            throw SyntaxProblem("'\(text)' must be lower case (baggage keys are case-sensitive)")
        }
        return name
    }

    /// A baseline workload, `KIND/NAMESPACE/NAME`: a kind such as `Deployment` or `ArgoRollout`
    /// (letters and digits), and a Kubernetes namespace and name (DNS-1123: lower-case letters,
    /// digits, '-' and '.', 1-253 bytes).
    static func workload(_ text: String) throws(SyntaxProblem) -> (kind: String, namespace: String, name: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { throw SyntaxProblem("expected KIND/NAMESPACE/NAME, e.g. Deployment/default/web") }
        let (kind, namespace, name) = (parts[0], parts[1], parts[2])
        guard !kind.isEmpty, kind.utf8.count <= 63,
              kind.utf8.allSatisfy({ isAlphanumericASCII($0) }), kind.utf8.first.map({ $0 >= 0x41 }) == true else {
            throw SyntaxProblem("workload kind '\(kind)' must be letters and digits, starting with a letter")
        }
        for (part, what) in [(namespace, "namespace"), (name, "name")] {
            guard !part.isEmpty, part.utf8.count <= 253,
                  part.utf8.allSatisfy({ isAlphanumericASCII($0) && !($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2D || $0 == 0x2E })
            else {
                throw SyntaxProblem("workload \(what) '\(part)' must be lower-case letters, digits, '-' and '.'")
            }
        }
        return (kind, namespace, name)
    }

    private static func isAlphanumericASCII(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    private static func restrictedName(_ text: String, what: String, maxBytes: Int) throws(SyntaxProblem) -> String {
        guard !text.isEmpty else { throw SyntaxProblem("the \(what) is empty") }
        guard text.utf8.count <= maxBytes else {
            throw SyntaxProblem("the \(what) is \(text.utf8.count) bytes long (at most \(maxBytes))")
        }
        if let bad = text.utf8.first(where: { !isKeyByte($0) }) {
            throw SyntaxProblem("\(what) '\(text)' contains \(describe(bad)) "
                + "(allowed: letters, digits, '.', '_', '-')")
        }
        return text
    }

    /// RFC 9110 §5.6.2 `tchar`. (DevmeshBytes has the same table for the hot path; this slow
    /// path keeps its own copy rather than depend on that module.)
    private static func isTokenChar(_ byte: UInt8) -> Bool {
        HostName.isAlphanumeric(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        HostName.isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'"
            : byte == 0x20 ? "a space" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }
}

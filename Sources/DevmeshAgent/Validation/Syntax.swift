import Glibc

/// The syntax rules for names, keys, hosts and ports. Each check returns nil when the value is
/// valid, or the sentence that says what is wrong with it.
public enum Syntax {
    /// Workload kinds a fork may name. Signadot forks Deployments and Argo Rollouts.
    public static let workloadKinds = ["Deployment", "ArgoRollout"]

    /// RFC 1123 label as Kubernetes uses it for names (DNS-1123 label): 1-63 characters of
    /// `a-z`, `0-9` and `-`, starting and ending with a letter or digit. Sandbox and route-group
    /// names and namespaces follow it, so that they can become Kubernetes names.
    public static func dnsLabelProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "must not be empty" }
        guard bytes.count <= 63 else { return "must be at most 63 characters (it has \(bytes.count))" }
        guard bytes.allSatisfy({ isLowerAlnum($0) || $0 == UInt8(ascii: "-") }),
              isLowerAlnum(bytes.first!), isLowerAlnum(bytes.last!) else {
            return "must be lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label)"
        }
        return nil
    }

    /// DNS-1123 subdomain (Kubernetes workload names): at most 253 characters, dot-separated
    /// DNS-1123 labels.
    public static func dnsSubdomainProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "must not be empty" }
        guard text.utf8.count <= 253 else { return "must be at most 253 characters" }
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            if dnsLabelProblem(String(label)) != nil {
                return "must be lower-case letters, digits, '-' and '.', each dot-separated part starting and "
                    + "ending with a letter or digit (DNS-1123 subdomain)"
            }
        }
        return nil
    }

    /// A routing key the proxy can carry: 1-128 bytes of `A-Z a-z 0-9 . _ -` (carriers.md §7).
    public static func routingKeyProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "must not be empty (omit it to have one generated)" }
        guard bytes.count <= 128 else { return "must be at most 128 characters" }
        guard bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                                 || $0 == UInt8(ascii: "-") }) else {
            return "may only hold letters, digits, '.', '_' and '-' (the characters a routing key can carry in baggage)"
        }
        return nil
    }

    public static func workloadKindProblem(_ text: String) -> String? {
        if workloadKinds.contains(text) { return nil }
        if let match = workloadKinds.first(where: { $0.lowercased() == text.lowercased() }) {
            return "unknown workload kind \"\(text)\"; did you mean \(match)? (kinds are case-sensitive)"
        }
        return "unknown workload kind \"\(text)\"; use one of \(workloadKinds.joined(separator: ", "))"
    }

    public static func portProblem(_ port: UInt32) -> String? {
        (1...65535).contains(port) ? nil : "must be a port from 1 to 65535 (got \(port))"
    }

    /// A destination host: a DNS name (RFC 1123 §2.1 host names: letters, digits and '-' in
    /// dot-separated labels of at most 63, 253 in all, optionally fully qualified with a final
    /// dot), an IPv4 address, or an IPv6 address (without brackets).
    public static func hostProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "must not be empty" }
        if text.contains(":") {
            var address = in6_addr()
            return inet_pton(AF_INET6, text, &address) == 1 ? nil : "\"\(text)\" is not a valid IPv6 address"
        }
        let name = text.hasSuffix(".") ? String(text.dropLast()) : text
        guard !name.isEmpty, name.utf8.count <= 253 else { return "\"\(text)\" is not a valid host name (too long)" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63,
                  bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }),
                  bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else {
                return "\"\(text)\" is not a valid host name: use letters, digits and '-' in dot-separated "
                    + "parts of 1-63 characters, or an IP address"
            }
        }
        // All-numeric dotted names must be real IPv4 addresses (999.1.1.1 is neither).
        if labels.allSatisfy({ $0.utf8.allSatisfy(isDigit) }) {
            var address = in_addr()
            if inet_pton(AF_INET, name, &address) != 1 { return "\"\(text)\" is not a valid IPv4 address" }
        }
        return nil
    }

    /// Label keys: an optional DNS-subdomain prefix and '/', then 1-63 characters of letters,
    /// digits, '-', '_' and '.', starting and ending with a letter or digit (Kubernetes labels).
    public static func labelKeyProblem(_ text: String) -> String? {
        var name = Substring(text)
        if let slash = text.firstIndex(of: "/") {
            if dnsSubdomainProblem(String(text[..<slash])) != nil { return "label key prefix must be a DNS subdomain" }
            name = text[text.index(after: slash)...]
        }
        return labelTextProblem(name, allowEmpty: false, allowStar: false)
    }

    /// Label values: up to 63 characters like a key's name part, or empty. In a route group's
    /// selector, `*` is allowed too (a glob).
    public static func labelValueProblem(_ text: String, allowStar: Bool) -> String? {
        labelTextProblem(Substring(text), allowEmpty: true, allowStar: allowStar)
    }

    private static func labelTextProblem(_ text: Substring, allowEmpty: Bool, allowStar: Bool) -> String? {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return allowEmpty ? nil : "must not be empty" }
        guard bytes.count <= 63 else { return "must be at most 63 characters" }
        let star = UInt8(ascii: "*")
        func edgeOK(_ byte: UInt8) -> Bool { isAlnum(byte) || (allowStar && byte == star) }
        guard bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
                                 || $0 == UInt8(ascii: ".") || (allowStar && $0 == star) }),
              edgeOK(bytes.first!), edgeOK(bytes.last!) else {
            return "must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
                + (allowStar ? " ('*' matches anything)" : "")
        }
        return nil
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || isDigit(byte)
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        isLowerAlnum(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

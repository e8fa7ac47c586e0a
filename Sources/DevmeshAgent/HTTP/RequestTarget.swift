/// An origin-form request target (RFC 9112 §3.2.1: `absolute-path [ "?" query ]`) split into
/// percent-decoded path segments and query parameters.
public struct RequestTarget: Equatable, Sendable {
    /// Non-empty segments: `/api/v1/sandboxes/` gives ["api", "v1", "sandboxes"].
    public var segments: [String]
    public var query: [(name: String, value: String)]

    public init?(_ target: String) {
        guard target.hasPrefix("/") else { return nil }
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var segments: [String] = []
        for raw in parts[0].split(separator: "/") {
            guard let segment = RequestTarget.percentDecode(raw, plusIsSpace: false) else { return nil }
            segments.append(segment)
        }
        var query: [(name: String, value: String)] = []
        if parts.count == 2 {
            // application/x-www-form-urlencoded pairs (WHATWG URL "urlencoded parsing").
            for pair in parts[1].split(separator: "&") {
                let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = RequestTarget.percentDecode(nameValue[0], plusIsSpace: true),
                      let value = RequestTarget.percentDecode(nameValue.count > 1 ? nameValue[1] : "", plusIsSpace: true)
                else { return nil }
                query.append((name, value))
            }
        }
        self.segments = segments
        self.query = query
    }

    public static func == (lhs: RequestTarget, rhs: RequestTarget) -> Bool {
        lhs.segments == rhs.segments && lhs.query.map(\.name) == rhs.query.map(\.name)
            && lhs.query.map(\.value) == rhs.query.map(\.value)
    }

    /// RFC 3986 §2.1 percent-decoding; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecode(_ text: Substring, plusIsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// RFC 3986 §2.1 percent-encoding of everything but unreserved characters (for clients).
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

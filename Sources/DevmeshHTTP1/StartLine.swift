/// Parsers for the first line of a head. Both run only on a complete head, so every line they
/// read ends in CRLF before `headEnd`.
enum StartLine {
    struct RequestLine {
        var methodEnd: Int
        var targetStart: Int
        var targetEnd: Int
        var versionMinor: UInt8
        /// Offset of the line after the request line.
        var next: Int
    }

    struct StatusLine {
        var versionMinor: UInt8
        var status: UInt16
        var reasonStart: Int
        var reasonEnd: Int
        var next: Int
    }

    /// `request-line = method SP request-target SP HTTP-version CRLF` (RFC 9112 §3), taken
    /// strictly: one SP between parts, nothing after the version. §3: a server that receives an
    /// invalid request-line "SHOULD respond with either a 400 (Bad Request) error or a
    /// 301 (Moved Permanently) redirect"; we never repair and forward.
    static func parseRequest(_ bytes: RawBytes, from start: Int, headEnd: Int) throws(HTTP1Error) -> RequestLine {
        let methodEnd = bytes.firstNonToken(from: start, to: headEnd)
        guard methodEnd > start, methodEnd < headEnd, bytes[methodEnd] == Byte.space else {
            throw .invalidMethod
        }
        // The target may hold any byte but CTL, SP and DEL (obs-text passes: raw UTF-8 paths
        // are common and harmless to framing). An empty target means two spaces in a row.
        let targetStart = methodEnd + 1
        let targetEnd = bytes.firstControlByte(from: targetStart, to: headEnd, below: 0x21)
        guard targetEnd > targetStart, targetEnd < headEnd else { throw .invalidTarget }
        switch bytes[targetEnd] {
        case Byte.space: break
        case Byte.cr: // no version (HTTP/0.9 style), unless the CR is a bare one
            throw bytes[targetEnd + 1] == Byte.lf ? .invalidRequestLine : .bareCR
        default: throw .invalidTarget
        }
        let versionStart = targetEnd + 1
        let versionEnd = bytes.firstControlByte(from: versionStart, to: headEnd, below: 0x21)
        guard versionEnd < headEnd else { throw .invalidRequestLine }
        let minor = try versionMinor(bytes, from: versionStart, to: versionEnd)
        guard bytes[versionEnd] == Byte.cr else {
            throw bytes[versionEnd] == Byte.space ? .invalidRequestLine : .invalidVersion
        }
        guard versionEnd + 1 < headEnd, bytes[versionEnd + 1] == Byte.lf else { throw .bareCR }
        return RequestLine(methodEnd: methodEnd, targetStart: targetStart, targetEnd: targetEnd,
                           versionMinor: minor, next: versionEnd + 2)
    }

    /// `status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF` (RFC 9112 §4).
    /// A missing SP before an empty reason is tolerated (common, and harmless to framing);
    /// the status code must be three digits in 100...599.
    static func parseStatus(_ bytes: RawBytes, headEnd: Int) throws(HTTP1Error) -> StatusLine {
        let versionEnd = bytes.firstControlByte(from: 0, to: headEnd, below: 0x21)
        guard versionEnd < headEnd else { throw .invalidStatusLine }
        let minor = try versionMinor(bytes, from: 0, to: versionEnd)
        let codeStart = versionEnd + 1
        guard bytes[versionEnd] == Byte.space, codeStart + 3 < headEnd else { throw .invalidStatusLine }
        var status: UInt16 = 0
        for offset in codeStart..<codeStart + 3 {
            let digit = bytes[offset] &- Byte.zero
            guard digit < 10 else { throw .invalidStatusLine }
            status = status * 10 + UInt16(digit)
        }
        guard (100...599).contains(status) else { throw .invalidStatusLine }

        let afterCode = codeStart + 3
        let reasonStart: Int
        switch bytes[afterCode] {
        case Byte.space: reasonStart = afterCode + 1
        case Byte.cr: reasonStart = afterCode
        default: throw .invalidStatusLine
        }
        let reasonEnd: Int
        do {
            reasonEnd = try FieldLineParser.lineEnd(bytes, from: reasonStart, to: headEnd)
        } catch .invalidHeaderValue {
            throw .invalidStatusLine
        }
        return StatusLine(versionMinor: minor, status: status, reasonStart: reasonStart,
                          reasonEnd: reasonEnd, next: reasonEnd + 2)
    }

    /// `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive (RFC 9112 §2.3). A well-formed
    /// version other than 1.0 and 1.1 is unsupported (505); anything else is malformed (400).
    static func versionMinor(_ bytes: RawBytes, from start: Int, to end: Int) throws(HTTP1Error) -> UInt8 {
        guard end - start == 8,
              bytes[start] == UInt8(ascii: "H"), bytes[start + 1] == UInt8(ascii: "T"),
              bytes[start + 2] == UInt8(ascii: "T"), bytes[start + 3] == UInt8(ascii: "P"),
              bytes[start + 4] == Byte.slash, bytes[start + 6] == Byte.dot else {
            throw .invalidVersion
        }
        let major = bytes[start + 5] &- Byte.zero
        let minor = bytes[start + 7] &- Byte.zero
        guard major < 10, minor < 10 else { throw .invalidVersion }
        guard major == 1, minor <= 1 else { throw .unsupportedVersion }
        return minor
    }
}

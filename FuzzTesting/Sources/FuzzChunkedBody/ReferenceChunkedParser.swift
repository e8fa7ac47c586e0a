import DevmeshHTTP1

/// An independent, non-incremental reading of a chunked body (RFC 9112 §7.1), used as the
/// oracle for `ChunkedDecoder`:
///
/// ```
/// chunked-body   = *chunk last-chunk trailer-section CRLF
/// chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// trailer-section = *( field-line CRLF )
/// ```
///
/// with devmesh's documented policy (ChunkedDecoder's doc comment): at most 16 hex digits and a
/// size below 2^63; whitespace after the size only before a `;`; extensions not parsed beyond
/// "no control byte but HTAB"; a size line (CRLF included) of at most `maxChunkLineBytes`;
/// CRLF only; trailer lines `token ":" *(VCHAR / obs-text / SP / HTAB) CRLF`, at most
/// `maxHeaderCount` of them and `maxTrailerBytes` bytes with the final CRLF.
///
/// The verdict is one of three: the body is complete after N bytes; the input is a proper
/// prefix of some valid body; or no continuation can make it valid. Which rule broke first is
/// not compared (the decoder is incremental and may notice another one first).
struct ReferenceChunkedParser {
    enum Verdict: Equatable, CustomStringConvertible {
        case complete(length: Int, payload: [UInt8], trailers: [UInt8], trailerCount: Int)
        case incomplete
        case invalid(String)

        var description: String {
            switch self {
            case .complete(let length, let payload, let trailers, let count):
                "complete(\(length) bytes, payload \(payload.count), trailers \(trailers.count) in \(count) lines)"
            case .incomplete: "incomplete"
            case .invalid(let why): "invalid(\(why))"
            }
        }
    }

    /// Thrown out of the recursive reading: the input ran out, or it broke a rule.
    private enum Stop: Error {
        case incomplete
        case invalid(String)
    }

    private let bytes: [UInt8]
    private let limits: HTTP1Limits
    private var position = 0

    init(_ input: UnsafeRawBufferPointer, limits: HTTP1Limits) {
        bytes = Array(input)
        self.limits = limits
    }

    func parse() -> Verdict {
        var parser = self
        do throws(Stop) {
            return try parser.body()
        } catch {
            switch error {
            case .incomplete: return .incomplete
            case .invalid(let why): return .invalid(why)
            }
        }
    }

    private mutating func body() throws(Stop) -> Verdict {
        var payload: [UInt8] = []
        while true {
            let size = try sizeLine()
            if size == 0 { break }
            let available = bytes.count - position
            if UInt64(available) < size {
                throw .incomplete
            }
            payload += bytes[position..<position + Int(size)]
            position += Int(size)
            try expectCRLF(what: "after chunk data")
        }
        let trailerStart = position
        var count = 0
        while true {
            let lineStart = position
            let byte = try nextTrailerByte(from: trailerStart)
            if byte == 0x0D {
                if try nextTrailerByte(from: trailerStart) != 0x0A { throw .invalid("no LF after the final CR") }
                let trailers = Array(bytes[trailerStart..<lineStart])
                return .complete(length: position, payload: payload, trailers: trailers, trailerCount: count)
            }
            count += 1
            if count > limits.maxHeaderCount { throw .invalid("too many trailer lines") }
            try trailerLine(startingWith: byte, budgetFrom: trailerStart)
        }
    }

    /// chunk-size [ chunk-ext ] CRLF, returning the size.
    private mutating func sizeLine() throws(Stop) -> UInt64 {
        let lineStart = position
        var size: UInt64 = 0
        var digits = 0
        while true {
            let byte = try nextInLine(lineStart)
            guard let value = Self.hex(byte) else { position -= 1; break }
            digits += 1
            if digits > 16 { throw .invalid("more than 16 hex digits") }
            size = size << 4 | UInt64(value)
            if size > UInt64(Int64.max) { throw .invalid("size beyond 2^63 - 1") }
        }
        if digits == 0 { throw .invalid("no hex digit") }
        var sawWhitespace = false
        while true {
            let byte = try nextInLine(lineStart)
            switch byte {
            case 0x20, 0x09:
                sawWhitespace = true
            case 0x3B:
                // Extension: anything but control bytes (HTAB allowed) up to CR.
                while true {
                    let extensionByte = try nextInLine(lineStart)
                    if extensionByte == 0x0D { break }
                    if extensionByte == 0x09 { continue }
                    if extensionByte < 0x20 || extensionByte == 0x7F { throw .invalid("control byte in extension") }
                }
                try expectInLine(0x0A, lineStart)
                return size
            case 0x0D where !sawWhitespace:
                try expectInLine(0x0A, lineStart)
                return size
            default:
                throw .invalid("junk after the size")
            }
        }
    }

    /// The next byte of a size line, which may not grow past its limit (CRLF included).
    private mutating func nextInLine(_ lineStart: Int) throws(Stop) -> UInt8 {
        let byte = try next()
        if position - lineStart > limits.maxChunkLineBytes { throw .invalid("size line too long") }
        return byte
    }

    private mutating func expectInLine(_ expected: UInt8, _ lineStart: Int) throws(Stop) {
        if try nextInLine(lineStart) != expected { throw .invalid("expected byte \(expected) in the size line") }
    }

    /// field-name ":" field-value CRLF (its first byte already read).
    private mutating func trailerLine(startingWith first: UInt8, budgetFrom start: Int) throws(Stop) {
        var byte = first
        var nameLength = 0
        while !(byte == 0x3A && nameLength > 0) {
            if !Self.isTchar(byte) { throw .invalid("bad trailer name byte") }
            nameLength += 1
            byte = try nextTrailerByte(from: start)
        }
        while true {
            let valueByte = try nextTrailerByte(from: start)
            if valueByte == 0x0D { break }
            if valueByte == 0x09 { continue }
            if valueByte < 0x20 || valueByte == 0x7F { throw .invalid("control byte in a trailer value") }
        }
        if try nextTrailerByte(from: start) != 0x0A { throw .invalid("no LF after a trailer line") }
    }

    /// The next byte of the trailer section, which may not grow past its byte limit.
    private mutating func nextTrailerByte(from start: Int) throws(Stop) -> UInt8 {
        let byte = try next()
        if position - start > limits.maxTrailerBytes { throw .invalid("trailers too large") }
        return byte
    }

    private mutating func next() throws(Stop) -> UInt8 {
        guard position < bytes.count else { throw .incomplete }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func expect(_ expected: UInt8, what: String) throws(Stop) {
        if try next() != expected { throw .invalid("expected \(what)") }
    }

    private mutating func expectCRLF(what: String) throws(Stop) {
        try expect(0x0D, what: "CR \(what)")
        try expect(0x0A, what: "LF \(what)")
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private static func isTchar(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

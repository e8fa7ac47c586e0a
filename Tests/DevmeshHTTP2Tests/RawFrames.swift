import DevmeshHTTP2

/// Hand-made HTTP/2 frames (RFC 9113 §4.1) for abuse tests, and a reader for what a session
/// produced. The HPACK encoder only writes what the tests need (RFC 7541 §6.1 indexed fields
/// and §6.2.2 literals without indexing, no Huffman).
enum RawFrame {
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static let data: UInt8 = 0x0, headers: UInt8 = 0x1, rstStream: UInt8 = 0x3, settings: UInt8 = 0x4
    static let ping: UInt8 = 0x6, goAway: UInt8 = 0x7, windowUpdate: UInt8 = 0x8, continuation: UInt8 = 0x9
    static let endStream: UInt8 = 0x1, ack: UInt8 = 0x1, endHeaders: UInt8 = 0x4, padded: UInt8 = 0x8

    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
            + be32(stream & 0x7fff_ffff) + payload
    }

    /// Client preface plus an empty SETTINGS and the ACK of the server's SETTINGS.
    static var clientStart: [UInt8] {
        preface + frame(settings) + frame(settings, flags: ack)
    }

    static func rst(_ stream: UInt32, code: UInt32 = 0x8) -> [UInt8] {
        frame(rstStream, stream: stream, be32(code))
    }

    static func pingFrame(_ value: UInt8) -> [UInt8] {
        frame(ping, [UInt8](repeating: value, count: 8))
    }

    /// A GET request header block: :method GET, :scheme http, :path (literal), :authority.
    static func requestBlock(path: String = "/", extra: [(String, String)] = []) -> [UInt8] {
        var block: [UInt8] = [0x82, 0x86] // indexed :method GET, :scheme http
        block += literal(nameIndex: 4, value: path) // :path
        block += literal(nameIndex: 1, value: "svc.local") // :authority
        for (name, value) in extra { block += literal(name: name, value: value) }
        return block
    }

    static func requestHeaders(stream: UInt32, endStream: Bool = true, path: String = "/",
                               extra: [(String, String)] = []) -> [UInt8] {
        frame(headers, flags: endHeaders | (endStream ? RawFrame.endStream : 0), stream: stream,
              requestBlock(path: path, extra: extra))
    }

    /// RFC 7541 §6.2.2, indexed name.
    static func literal(nameIndex: Int, value: String) -> [UInt8] {
        integer(nameIndex, prefixBits: 4, firstByte: 0x00) + string(value)
    }

    /// RFC 7541 §6.2.2, new name.
    static func literal(name: String, value: String) -> [UInt8] {
        [0x00] + string(name) + string(value)
    }

    static func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        return integer(bytes.count, prefixBits: 7, firstByte: 0x00) + bytes
    }

    /// RFC 7541 §5.1 integer with an N-bit prefix.
    static func integer(_ value: Int, prefixBits: Int, firstByte: UInt8) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        if value < limit { return [firstByte | UInt8(value)] }
        var out: [UInt8] = [firstByte | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest & 0x7f | 0x80))
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}

/// A frame read back from a session's output.
struct ParsedFrame: Equatable {
    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: [UInt8]

    /// Error code of a RST_STREAM or GOAWAY.
    var errorCode: UInt32? {
        switch type {
        case RawFrame.rstStream where payload.count >= 4: return be32(at: 0)
        case RawFrame.goAway where payload.count >= 8: return be32(at: 4)
        default: return nil
        }
    }

    /// Last-stream-id of a GOAWAY.
    var lastStreamID: UInt32? {
        type == RawFrame.goAway && payload.count >= 8 ? be32(at: 0) & 0x7fff_ffff : nil
    }

    private func be32(at offset: Int) -> UInt32 {
        payload[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Splits `bytes` into frames; `skipPreface` drops a client connection preface first.
    static func parse(_ bytes: [UInt8], skipPreface: Bool = false) -> [ParsedFrame] {
        var offset = skipPreface ? RawFrame.preface.count : 0
        var frames: [ParsedFrame] = []
        while offset + 9 <= bytes.count {
            let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard offset + 9 + length <= bytes.count else { break }
            let stream = bytes[offset + 5..<offset + 9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7fff_ffff
            frames.append(ParsedFrame(type: bytes[offset + 3], flags: bytes[offset + 4], stream: stream,
                                      payload: Array(bytes[offset + 9..<offset + 9 + length])))
            offset += 9 + length
        }
        return frames
    }
}

/// A server session fed raw bytes, with its output collected and parsed.
final class RawServer {
    let session: HTTP2Session
    let events = Recorder()
    var output: [UInt8] = []
    var now: Int64 = 1_000

    init(settings: HTTP2Settings = HTTP2Settings()) {
        session = HTTP2Session(role: .server, settings: settings)
        session.delegate = events
    }

    @discardableResult
    func feed(_ bytes: [UInt8]) -> HTTP2ReceiveOutcome {
        bytes.withUnsafeBytes { session.receive($0, now: now) }
    }

    /// Produces everything pending and returns the frames (after the ones read before).
    @discardableResult
    func flush() -> [ParsedFrame] {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var produced: [UInt8] = []
        while session.wantsWrite {
            let written = buffer.withUnsafeMutableBytes { session.produce(into: $0) }
            if written == 0 { break }
            produced += buffer[0..<written]
        }
        output += produced
        return ParsedFrame.parse(produced)
    }

    var frames: [ParsedFrame] { ParsedFrame.parse(output) }

    var goAway: ParsedFrame? { frames.last { $0.type == RawFrame.goAway } }

    func resets(of stream: UInt32) -> [UInt32] {
        frames.filter { $0.type == RawFrame.rstStream && $0.stream == stream }.compactMap(\.errorCode)
    }
}

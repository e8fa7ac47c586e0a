/// gRPC's Length-Prefixed-Message (gRPC over HTTP/2, "Requests"/"Responses"): every message in
/// a DATA stream is
///
///     Compressed-Flag (1 byte, 0 or 1) | Message-Length (4 bytes, big-endian) | Message
///
/// devmesh negotiates no `grpc-encoding`, so it never compresses and refuses a compressed
/// message instead of passing undecodable bytes on.
public enum GRPCMessageFraming {
    public static let prefixLength = 5
    /// gRPC's default limit on a received message (4 MiB), used unless a caller sets another.
    public static let defaultMaxMessageBytes = 4 * 1024 * 1024

    /// The prefix followed by `message`, uncompressed.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prefixLength + message.count)
        appendPrefix(length: message.count, to: &out)
        out.append(contentsOf: message)
        return out
    }

    /// Encodes `message` straight after its prefix (one buffer, no intermediate copy).
    public static func frame<Message: ProtobufMessage>(_ message: Message) -> [UInt8] {
        let size = message.encodedSize
        var prefix: [UInt8] = []
        appendPrefix(length: size, to: &prefix)
        var writer = ProtobufWriter(capacity: prefixLength + size)
        writer.writeRaw(prefix)
        message.encode(to: &writer)
        return writer.bytes
    }

    static func appendPrefix(length: Int, to out: inout [UInt8]) {
        precondition(length <= Int(UInt32.max), "a gRPC message cannot exceed 4 GiB")
        let value = UInt32(length)
        out.append(0)
        out.append(UInt8(truncatingIfNeeded: value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }
}

/// Why a gRPC DATA stream cannot be split into messages. Each maps to a gRPC status for the
/// stream (`grpcStatus`), never to a crash.
public enum GRPCFramingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Flag 1: compressed with an encoding we never offered.
    case compressedMessageNotSupported
    /// A flag other than 0 or 1.
    case invalidCompressedFlag(UInt8)
    /// The declared length is above the receiver's limit (checked before buffering the body).
    case messageTooLarge(length: UInt32, limit: Int)
    /// The stream ended inside a prefix or a message.
    case truncated(bufferedBytes: Int)

    /// gRPC status code for the stream: UNIMPLEMENTED (12) for compression, RESOURCE_EXHAUSTED
    /// (8) for size, INTERNAL (13) for framing (gRPC status codes document).
    public var grpcStatus: Int {
        switch self {
        case .compressedMessageNotSupported: 12
        case .messageTooLarge: 8
        case .invalidCompressedFlag, .truncated: 13
        }
    }

    public var description: String {
        switch self {
        case .compressedMessageNotSupported: "grpc: compressed message, but no grpc-encoding was negotiated"
        case .invalidCompressedFlag(let flag): "grpc: invalid compressed flag \(flag)"
        case .messageTooLarge(let length, let limit): "grpc: message of \(length) bytes exceeds the limit of \(limit)"
        case .truncated(let count): "grpc: stream ended inside a message (\(count) bytes buffered)"
        }
    }
}

/// Splits a gRPC DATA byte stream into messages, whatever the frame boundaries: bytes are
/// appended as they arrive and whole messages are taken out.
public struct GRPCMessageDeframer {
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxMessageBytes: Int = GRPCMessageFraming.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes received but not yet returned as a message.
    public var bufferedBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next whole message, nil when more bytes are needed. Errors are final: the stream must
    /// be reset with `grpcStatus`.
    public mutating func nextMessage() throws(GRPCFramingError) -> [UInt8]? {
        let available = buffer.count - start
        guard available >= GRPCMessageFraming.prefixLength else { return nil }
        let flag = buffer[start]
        switch flag {
        case 0: break
        case 1: throw .compressedMessageNotSupported
        default: throw .invalidCompressedFlag(flag)
        }
        let length = UInt32(buffer[start + 1]) << 24 | UInt32(buffer[start + 2]) << 16
            | UInt32(buffer[start + 3]) << 8 | UInt32(buffer[start + 4])
        guard UInt64(length) <= UInt64(maxMessageBytes) else {
            throw .messageTooLarge(length: length, limit: maxMessageBytes)
        }
        let total = GRPCMessageFraming.prefixLength + Int(length)
        guard available >= total else { return nil }
        let body = Array(buffer[(start + GRPCMessageFraming.prefixLength)..<(start + total)])
        start += total
        if start > 64 * 1024 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return body
    }

    /// Call at the end of the stream: leftover bytes mean the peer cut a message short.
    public func finish() throws(GRPCFramingError) {
        if bufferedBytes > 0 { throw .truncated(bufferedBytes: bufferedBytes) }
    }
}

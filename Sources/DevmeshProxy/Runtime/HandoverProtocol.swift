import DevmeshIO

/// The messages of a listener handover (binary upgrade, F13), exchanged over the unix
/// `SOCK_SEQPACKET` socket named by `handover_socket`: one message per packet, descriptors
/// attached with `SCM_RIGHTS` (see `FDPassing`).
///
/// ```
///  successor (new)                                  predecessor (running)
///  hello(pid)                      ───────────────►
///                                  ◄───────────────  listeners(batch 1..n, last) + the fds
///  (adopt, bind the rest, start workers)
///  serving(ids of adopted entries) ───────────────►
///                                                    stop accepting on those ids, unlink the path
///                                  ◄───────────────  done
///  (bind the path)                                   drain as on SIGTERM, exit 0
/// ```
///
/// The predecessor answers `refused(reason)` instead of `listeners` when it cannot hand over
/// (it is draining, or another handover is in progress). Any other order, or a message that
/// does not decode, ends the handover: the successor binds its own listeners, the predecessor
/// keeps serving and closes nothing.
///
/// Wire format (big-endian): `"DMHO"`, version (1 byte), type (1 byte), then the body:
/// - hello (1): pid u32.
/// - listeners (2): pid u32, first entry id u16, flags u8 (bit 0: last batch), count u16, then
///   `count` entries: kind u8 (1 worker listener, 2 admin listener), group u16 (the listen
///   address's position in the predecessor's configuration), worker u16, address length u8,
///   address text (`127.0.0.1:8080`, `[::1]:8080`). Exactly `count` descriptors come with it,
///   in entry order. Entry ids number the entries of all batches from 0.
/// - serving (3): count u16, then `count` entry ids u16.
/// - done (4): empty.
/// - refused (5): reason length u16, reason (UTF-8, at most 512 bytes).
enum HandoverMessage: Equatable {
    case hello(pid: UInt32)
    case listeners(HandoverBatch)
    case serving(adopted: [UInt16])
    case done
    case refused(reason: String)

    static let magic: [UInt8] = Array("DMHO".utf8)
    static let version: UInt8 = 1
    /// Larger packets are never sent; a receiver reads into a buffer of this size, and a
    /// packet that does not fit arrives truncated and is rejected.
    static let maxPacketBytes = 64 * 1024
    static let maxReasonBytes = 512
    static let maxAddressBytes = 64
    /// Entries per listeners message: below the kernel's descriptor limit per message and
    /// small enough that a batch always fits `maxPacketBytes`.
    static let maxEntriesPerBatch = 200

    private enum Kind: UInt8 {
        case hello = 1, listeners, serving, done, refused
    }

    // MARK: Encoding

    func encoded() -> [UInt8] {
        var out = HandoverMessage.magic
        out.append(HandoverMessage.version)
        switch self {
        case .hello(let pid):
            out.append(Kind.hello.rawValue)
            out.appendBigEndian(pid)
        case .listeners(let batch):
            out.append(Kind.listeners.rawValue)
            out.appendBigEndian(batch.pid)
            out.appendBigEndian(batch.firstID)
            out.append(batch.isLast ? 1 : 0)
            out.appendBigEndian(UInt16(batch.entries.count))
            for entry in batch.entries {
                out.append(entry.kind.rawValue)
                out.appendBigEndian(entry.group)
                out.appendBigEndian(entry.worker)
                let text = Array(entry.address.description.utf8)
                out.append(UInt8(text.count))
                out += text
            }
        case .serving(let adopted):
            out.append(Kind.serving.rawValue)
            out.appendBigEndian(UInt16(adopted.count))
            for id in adopted { out.appendBigEndian(id) }
        case .done:
            out.append(Kind.done.rawValue)
        case .refused(let reason):
            out.append(Kind.refused.rawValue)
            let text = Array(reason.utf8.prefix(HandoverMessage.maxReasonBytes))
            out.appendBigEndian(UInt16(text.count))
            out += text
        }
        return out
    }

    // MARK: Decoding

    /// Decodes one packet. Never traps on what a peer sends: anything out of place is a
    /// `HandoverError.malformed` naming what was wrong.
    static func decode(_ bytes: ArraySlice<UInt8>) throws(HandoverError) -> HandoverMessage {
        var reader = ByteReader(bytes: bytes)
        guard reader.take(magic.count) == magic[...] else { throw .malformed("not a devmesh handover message") }
        let version = try reader.u8("version")
        guard version == HandoverMessage.version else {
            throw .malformed("protocol version \(version), this devmesh speaks \(HandoverMessage.version)")
        }
        let type = try reader.u8("type")
        guard let kind = Kind(rawValue: type) else { throw .malformed("unknown message type \(type)") }
        let message: HandoverMessage
        switch kind {
        case .hello:
            message = .hello(pid: try reader.u32("pid"))
        case .listeners:
            message = .listeners(try decodeBatch(&reader))
        case .serving:
            let count = Int(try reader.u16("count"))
            var ids: [UInt16] = []
            for _ in 0..<count { ids.append(try reader.u16("entry id")) }
            message = .serving(adopted: ids)
        case .done:
            message = .done
        case .refused:
            let length = Int(try reader.u16("reason length"))
            guard length <= maxReasonBytes, let text = reader.take(length) else { throw .malformed("bad reason") }
            message = .refused(reason: String(decoding: text, as: UTF8.self))
        }
        guard reader.isAtEnd else { throw .malformed("\(reader.remaining) unexpected byte(s) after the message") }
        return message
    }

    private static func decodeBatch(_ reader: inout ByteReader) throws(HandoverError) -> HandoverBatch {
        let pid = try reader.u32("pid")
        let firstID = try reader.u16("first id")
        let flags = try reader.u8("flags")
        guard flags & ~1 == 0 else { throw .malformed("unknown flags \(flags)") }
        let count = Int(try reader.u16("count"))
        guard count <= maxEntriesPerBatch else { throw .malformed("\(count) entries in one batch") }
        guard Int(firstID) + count <= Int(UInt16.max) else { throw .malformed("entry ids overflow") }
        var entries: [HandedListener] = []
        for _ in 0..<count {
            guard let kind = HandedListener.Kind(rawValue: try reader.u8("kind")) else {
                throw .malformed("unknown listener kind")
            }
            let group = try reader.u16("group")
            let worker = try reader.u16("worker")
            let length = Int(try reader.u8("address length"))
            guard length <= maxAddressBytes, let text = reader.take(length) else { throw .malformed("bad address") }
            let address = String(decoding: text, as: UTF8.self)
            // A numeric address only: a handover never resolves names.
            guard let split = try? SocketAddress.splitHostPort(address),
                  let parsed = SocketAddress(ip: split.0, port: split.1) else {
                throw .malformed("'\(address)' is not a numeric socket address")
            }
            entries.append(HandedListener(kind: kind, group: group, worker: worker, address: parsed))
        }
        return HandoverBatch(pid: pid, firstID: firstID, isLast: flags & 1 == 1, entries: entries)
    }
}

/// One listening socket as the predecessor describes it. The descriptor travels beside it.
struct HandedListener: Equatable {
    enum Kind: UInt8 {
        /// A worker's SO_REUSEPORT listener of one listen address.
        case worker = 1
        /// The admin endpoint's listener.
        case admin = 2
    }

    var kind: Kind
    /// The listen address's position in the predecessor's configuration (two `:0` listeners
    /// are two groups of sockets on different ports). 0 for the admin listener.
    var group: UInt16
    /// The predecessor's worker that accepted on it (0 for the admin listener).
    var worker: UInt16
    /// The bound address (the actual port, also when the configuration said 0).
    var address: SocketAddress
}

/// One `listeners` message: entries `firstID ..< firstID + entries.count`.
struct HandoverBatch: Equatable {
    var pid: UInt32
    var firstID: UInt16
    var isLast: Bool
    var entries: [HandedListener]
}

/// Why a handover did not happen. Each case is logged, and each leaves both processes serving
/// (the successor binds its own listeners).
enum HandoverError: Error, CustomStringConvertible {
    /// The peer sent something that is not a valid message in this state.
    case malformed(String)
    /// The peer refused (draining, busy) and said why.
    case refused(String)
    /// The peer closed the connection or did not answer in time.
    case peerGone(String)
    /// A system call failed.
    case system(String, Errno)

    var description: String {
        switch self {
        case .malformed(let what): return "malformed handover message: \(what)"
        case .refused(let reason): return "the running devmesh refused: \(reason)"
        case .peerGone(let what): return what
        case .system(let call, let error): return "\(call): \(error)"
        }
    }
}

/// Reads big-endian fields from a packet; every read is bounds-checked.
private struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var isAtEnd: Bool { position == bytes.endIndex }
    var remaining: Int { bytes.endIndex - position }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func u8(_ field: String) throws(HandoverError) -> UInt8 {
        guard let slice = take(1) else { throw .malformed("cut short before the \(field)") }
        return slice.first!
    }

    mutating func u16(_ field: String) throws(HandoverError) -> UInt16 {
        guard let slice = take(2) else { throw .malformed("cut short before the \(field)") }
        return slice.reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func u32(_ field: String) throws(HandoverError) -> UInt32 {
        guard let slice = take(4) else { throw .malformed("cut short before the \(field)") }
        return slice.reduce(0) { $0 << 8 | UInt32($1) }
    }
}

private extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendBigEndian(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }
}

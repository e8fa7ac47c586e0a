internal import CNghttp2
import DevmeshBytes

/// A header list to send, copied into memory the session owns and laid out as the `nghttp2_nv`
/// array nghttp2 encodes from: one block holds the array followed by the name and value bytes.
///
/// Why a copy of our own: the caller's fields are only valid during its call (they often point
/// into the other session's decoded header block), and nghttp2 reads them when it serialises the
/// frame, later. nghttp2 could copy them itself, but its copy costs a `malloc`-sized allocation
/// and a byte-by-byte lower-casing of every name on top of ours (2,100 instructions per gRPC call,
/// callgrind). So the entries carry NGHTTP2_NV_FLAG_NO_COPY_NAME and _NO_COPY_VALUE, and the
/// block must outlive the frame: the session keeps it in the stream's state until the stream
/// closes (nghttp2 drops a closed stream's queued HEADERS without reading it) or the session is
/// destroyed. Blocks come from the worker's `NghttpAllocator` free lists, so steady-state
/// streams allocate nothing.
///
/// Two rules of RFC 9113 are applied on the way in, so header lists taken from HTTP/1.1 can be
/// passed as they are:
/// - §8.2.1: field names are lower case ("field names MUST be converted to lowercase when
///   constructing an HTTP/2 message"). nghttp2 does not lower-case NO_COPY_NAME names, so the
///   copy does.
/// - §8.2.2: connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
///   Transfer-Encoding, Upgrade, and TE unless its value is "trailers") make a message
///   malformed; they are left out.
struct OwnedHeaderBlock {
    let storage: UnsafeMutableRawPointer
    /// Entries in the array (fields after dropping connection-specific ones).
    let count: Int

    var entries: UnsafePointer<nghttp2_nv> {
        UnsafePointer(storage.assumingMemoryBound(to: nghttp2_nv.self))
    }

    /// Copies `fields` into a block from `allocator`. Give it back with `release(to:)`.
    init(copying fields: UnsafeBufferPointer<HeaderField>, allocator: NghttpAllocator) {
        var kept = 0
        var byteCount = 0
        for field in fields where !isConnectionSpecific(field) {
            kept += 1
            byteCount += field.name.count + field.value.count
        }
        let arrayBytes = kept * MemoryLayout<nghttp2_nv>.stride
        // The allocator hands out 16-byte aligned blocks, enough for nghttp2_nv. `lowercasingSlackBytes`
        // more, for the word-wise lower-casing below.
        guard let storage = allocator.allocate(arrayBytes + byteCount + lowercasingSlackBytes) else {
            fatalError("devmesh: out of memory (HTTP/2 header block)")
        }
        self.storage = storage
        count = kept
        let table = storage.bindMemory(to: nghttp2_nv.self, capacity: kept)
        var cursor = (storage + arrayBytes).assumingMemoryBound(to: UInt8.self)
        var index = 0
        for field in fields where !isConnectionSpecific(field) {
            let name = cursor
            // SAFETY: the block has name.count + value.count bytes per kept field after the
            // array, plus the lower-casing slack; `cursor` advances by exactly that much per field.
            if let source = field.name.baseAddress {
                ShortCopy.copy(from: source, to: name, count: field.name.count)
                lowercaseInPlace(name, count: field.name.count)
            }
            cursor += field.name.count
            let value = cursor
            if let source = field.value.baseAddress {
                ShortCopy.copy(from: source, to: value, count: field.value.count)
            }
            cursor += field.value.count
            (table + index).initialize(to: nghttp2_nv(
                name: name, value: value, namelen: field.name.count, valuelen: field.value.count,
                flags: CNghttp2_NV_FLAG_NO_COPY_NAME | CNghttp2_NV_FLAG_NO_COPY_VALUE))
            index += 1
        }
    }

    func release(to allocator: NghttpAllocator) {
        allocator.release(storage)
    }
}

/// Bytes a block has past its last value, so that `lowercaseInPlace` may work in whole words.
private let lowercasingSlackBytes = 8

/// Lower-cases the ASCII letters of the `count` bytes at `bytes`, eight at a time (a byte loop
/// cost 90 instructions per name). The last word may run up to 7 bytes past the name: inside a
/// header block, into bytes the value copy overwrites next, or into the block's slack. Bytes
/// 0x80-0xFF are left alone (RFC 9113 §8.2.1 only asks for ASCII letters; nghttp2 and the
/// peer reject the rest).
@inline(__always)
private func lowercaseInPlace(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) {
    let ones: UInt64 = 0x0101_0101_0101_0101
    var offset = 0
    while offset < count {
        // SAFETY: offset < count, and the caller's block has lowercasingSlackBytes past the name's
        // region, so the 8-byte word at `offset` is inside the block.
        let word = UnsafeMutableRawPointer(bytes + offset).loadUnaligned(as: UInt64.self)
        let ascii = word & (0x7F &* ones)
        // Per byte: high bit set when the 7-bit value is >= "A", and when it is > "Z".
        let atLeastA = ascii &+ (0x80 - 0x41) &* ones
        let aboveZ = ascii &+ (0x80 - 0x5B) &* ones
        let upper = atLeastA & ~aboveZ & ~word & (0x80 &* ones)
        UnsafeMutableRawPointer(bytes + offset).storeBytes(of: word | (upper >> 2), as: UInt64.self)
        offset += 8
    }
}

/// RFC 9113 §8.2.2: fields that only mean something to one HTTP/1.1 connection.
func isConnectionSpecific(_ field: HeaderField) -> Bool {
    let name = field.name
    switch name.count {
    case 2:
        // "te" is allowed with the value "trailers" only.
        return ASCII.equalsCaseInsensitive(name, lowercased: "te")
            && !ASCII.equalsCaseInsensitive(field.value, lowercased: "trailers")
    case 7: return ASCII.equalsCaseInsensitive(name, lowercased: "upgrade")
    case 10:
        return ASCII.equalsCaseInsensitive(name, lowercased: "connection")
            || ASCII.equalsCaseInsensitive(name, lowercased: "keep-alive")
    case 16: return ASCII.equalsCaseInsensitive(name, lowercased: "proxy-connection")
    case 17: return ASCII.equalsCaseInsensitive(name, lowercased: "transfer-encoding")
    default: return false
    }
}

internal import CNghttp2
import DevmeshBytes

/// Turns the caller's header list into the `nghttp2_nv` array nghttp2 encodes from.
///
/// Two rules of RFC 9113 are applied on the way out, so header lists taken from HTTP/1.1 can be
/// passed as they are:
/// - §8.2.1: field names are lower case. A name with upper-case letters is copied lower-cased
///   into scratch space (nghttp2 copies everything during the submit call, so the scratch is
///   reused by the next call).
/// - §8.2.2: connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
///   Transfer-Encoding, Upgrade, and TE unless its value is "trailers") make a message
///   malformed; they are left out.
struct OutboundHeaderScratch {
    private var entries: UnsafeMutablePointer<nghttp2_nv>
    private var entryCapacity: Int
    private var lowered: UnsafeMutableRawPointer
    private var loweredCapacity: Int

    init() {
        entryCapacity = 16
        entries = .allocate(capacity: entryCapacity)
        loweredCapacity = 256
        lowered = .allocate(byteCount: loweredCapacity, alignment: 1)
    }

    func deallocate() {
        entries.deallocate()
        lowered.deallocate()
    }

    /// Fills the array for `fields` and calls `body` with it. The array is valid during `body`.
    mutating func withEntries<R>(for fields: UnsafeBufferPointer<HeaderField>,
                                 _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        if fields.count > entryCapacity {
            entries.deallocate()
            entryCapacity = max(fields.count, entryCapacity * 2)
            entries = .allocate(capacity: entryCapacity)
        }
        var loweredBytes = 0
        for field in fields where hasUpperCase(field.name) { loweredBytes += field.name.count }
        if loweredBytes > loweredCapacity {
            lowered.deallocate()
            loweredCapacity = max(loweredBytes, loweredCapacity * 2)
            lowered = .allocate(byteCount: loweredCapacity, alignment: 1)
        }
        var count = 0
        var loweredUsed = 0
        for field in fields where !isConnectionSpecific(field) {
            var name = field.name
            if hasUpperCase(name) {
                let target = lowered + loweredUsed
                for index in 0..<name.count {
                    // SAFETY: loweredUsed + name.count <= loweredBytes <= loweredCapacity.
                    target.storeBytes(of: ASCII.lower(name[index]), toByteOffset: index, as: UInt8.self)
                }
                name = UnsafeRawBufferPointer(start: target, count: name.count)
                loweredUsed += name.count
            }
            // SAFETY: count < fields.count <= entryCapacity.
            (entries + count).initialize(to: nv(name: name, value: field.value))
            count += 1
        }
        return body(entries, count)
    }
}

/// One header list copied into memory the session owns, for headers that must outlive the
/// caller's call: trailers waiting for the buffered body, and submissions made from inside a
/// delegate callback (applied after nghttp2 returns). One allocation holds the `nghttp2_nv`
/// array followed by the bytes; released blocks are kept by `HeaderBlockPool` for reuse.
struct OwnedHeaderBlock {
    let storage: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var count = 0

    var entries: UnsafePointer<nghttp2_nv> {
        UnsafePointer(storage.assumingMemoryBound(to: nghttp2_nv.self))
    }

    /// Bytes needed to copy `fields` (after dropping connection-specific ones).
    static func byteCount(for fields: UnsafeBufferPointer<HeaderField>) -> Int {
        var total = 0
        for field in fields where !isConnectionSpecific(field) {
            total += MemoryLayout<nghttp2_nv>.stride + field.name.count + field.value.count
        }
        return total
    }

    init(storage: UnsafeMutableRawPointer, capacity: Int) {
        self.storage = storage
        self.capacity = capacity
    }

    /// Copies `fields` in (lower-casing names, dropping connection-specific fields).
    /// `capacity` must be at least `byteCount(for: fields)`.
    mutating func fill(with fields: UnsafeBufferPointer<HeaderField>) {
        var kept = 0
        for field in fields where !isConnectionSpecific(field) { kept += 1 }
        let table = storage.bindMemory(to: nghttp2_nv.self, capacity: kept)
        var cursor = storage + kept * MemoryLayout<nghttp2_nv>.stride
        count = 0
        for field in fields where !isConnectionSpecific(field) {
            let name = UnsafeRawBufferPointer(start: cursor, count: field.name.count)
            for index in 0..<field.name.count {
                // SAFETY: byteCount(for:) reserved name.count + value.count bytes per field.
                cursor.storeBytes(of: ASCII.lower(field.name[index]), toByteOffset: index, as: UInt8.self)
            }
            cursor += field.name.count
            if let source = field.value.baseAddress {
                cursor.copyMemory(from: source, byteCount: field.value.count)
            }
            let value = UnsafeRawBufferPointer(start: cursor, count: field.value.count)
            cursor += field.value.count
            (table + count).initialize(to: nv(name: name, value: value))
            count += 1
        }
    }
}

/// Reuses the storage of owned header blocks across streams (trailers waiting for their body).
struct HeaderBlockPool {
    private var free: [OwnedHeaderBlock] = []
    private static let maxIdle = 16
    private static let minimumBytes = 1024

    mutating func copy(_ fields: UnsafeBufferPointer<HeaderField>) -> OwnedHeaderBlock {
        let needed = OwnedHeaderBlock.byteCount(for: fields)
        var block: OwnedHeaderBlock
        if let index = free.lastIndex(where: { $0.capacity >= needed }) {
            block = free.remove(at: index)
        } else {
            let capacity = max(needed, HeaderBlockPool.minimumBytes)
            block = OwnedHeaderBlock(storage: .allocate(byteCount: capacity, alignment: 16), capacity: capacity)
        }
        block.fill(with: fields)
        return block
    }

    mutating func give(_ block: OwnedHeaderBlock) {
        if free.count < HeaderBlockPool.maxIdle {
            free.append(OwnedHeaderBlock(storage: block.storage, capacity: block.capacity))
        } else {
            block.storage.deallocate()
        }
    }

    mutating func releaseAll() {
        for block in free { block.storage.deallocate() }
        free.removeAll()
    }
}

/// A non-nil address for empty names and values (nghttp2 reads zero bytes from it): the
/// terminating NUL of a string constant in the binary.
@inline(__always)
private var emptyBytes: UnsafeMutablePointer<UInt8> {
    UnsafeMutablePointer(mutating: ("" as StaticString).utf8Start)
}

@inline(__always)
private func nv(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> nghttp2_nv {
    // nghttp2 never writes through these pointers; its API just lacks `const`.
    let namePointer = name.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) }
    let valuePointer = value.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) }
    return nghttp2_nv(name: namePointer ?? emptyBytes, value: valuePointer ?? emptyBytes,
                      namelen: name.count, valuelen: value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
}

@inline(__always)
private func hasUpperCase(_ bytes: UnsafeRawBufferPointer) -> Bool {
    for byte in bytes where byte &- 0x41 < 26 { return true }
    return false
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

/// Storage for the header blocks of actions queued while nghttp2 runs (a response submitted
/// from a delegate callback). They live only until the queue is applied, so they are carved from
/// chunks that are all reused at once (`reset`); a burst of responses in one `receive` costs no
/// allocation once the chunks reached their high-water mark. Chunks never move, so the pointers
/// inside earlier blocks stay valid while later ones are added.
struct DeferredHeaderArena {
    private var chunks: [(base: UnsafeMutableRawPointer, capacity: Int)] = []
    private var current = 0
    private var used = 0
    private static let chunkBytes = 4096

    mutating func copy(_ fields: UnsafeBufferPointer<HeaderField>) -> OwnedHeaderBlock {
        let needed = OwnedHeaderBlock.byteCount(for: fields)
        // Keep nghttp2_nv entries aligned.
        used = (used + 15) & ~15
        while current < chunks.count && chunks[current].capacity - used < needed {
            current += 1
            used = 0
        }
        if current == chunks.count {
            let capacity = max(needed, DeferredHeaderArena.chunkBytes)
            chunks.append((UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16), capacity))
            used = 0
        }
        var block = OwnedHeaderBlock(storage: chunks[current].base + used, capacity: needed)
        block.fill(with: fields)
        used += needed
        return block
    }

    /// Every block handed out is dead: reuse all chunks.
    mutating func reset() {
        current = 0
        used = 0
    }

    func deallocate() {
        for chunk in chunks { chunk.base.deallocate() }
    }
}

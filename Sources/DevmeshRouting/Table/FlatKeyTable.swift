import DevmeshBytes

/// An immutable open-addressing hash table from byte strings to small integers, built once per
/// route table and read by every worker without locks or allocation.
///
/// Layout: all keys back to back in one byte array, one fixed-size entry per key (full hash,
/// offset, length, tag, value) and a power-of-two slot array at most half full, probed
/// linearly. A lookup hashes the probe bytes once, then compares the stored hash, the tag,
/// the length and finally the bytes (`memcmp`): O(1) whatever the number of keys.
///
/// Two flavours share the layout: exact keys scoped by a tag (routing keys per service index)
/// and ASCII case-insensitive keys (host names, stored lower-cased).
struct FlatKeyTable: Sendable {
    private struct Entry: Sendable {
        var hash: UInt64
        var offset: UInt32
        var length: UInt32
        var tag: UInt32
        var value: UInt32
    }

    enum Matching: Sendable {
        /// Bytes compared exactly; the tag takes part in the hash and the comparison.
        case exact
        /// Keys stored lower-cased; probes hashed and compared ignoring ASCII case. No tag.
        case asciiCaseInsensitive
    }

    private let matching: Matching
    private let keyBytes: [UInt8]
    private let entries: [Entry]
    /// 0 = empty; otherwise index into `entries` plus one.
    private let slots: [UInt32]
    private let slotMask: Int

    /// - Parameter keys: distinct (bytes, tag) pairs (the caller validated uniqueness); for
    ///   `.asciiCaseInsensitive` the bytes must already be lower case.
    init(_ keys: [(bytes: [UInt8], tag: UInt32, value: UInt32)], matching: Matching) {
        self.matching = matching
        var slotCount = 8
        while slotCount < keys.count * 2 { slotCount *= 2 }
        var keyBytes: [UInt8] = []
        keyBytes.reserveCapacity(keys.reduce(0) { $0 + $1.bytes.count })
        var entries: [Entry] = []
        entries.reserveCapacity(keys.count)
        var slots = [UInt32](repeating: 0, count: slotCount)
        for key in keys {
            let hash = key.bytes.withUnsafeBytes { Self.hash($0, tag: key.tag, matching: matching) }
            entries.append(Entry(hash: hash, offset: UInt32(keyBytes.count), length: UInt32(key.bytes.count),
                                 tag: key.tag, value: key.value))
            keyBytes.append(contentsOf: key.bytes)
            var slot = Int(truncatingIfNeeded: hash) & (slotCount - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (slotCount - 1) }
            slots[slot] = UInt32(entries.count)
        }
        self.keyBytes = keyBytes
        self.entries = entries
        self.slots = slots
        slotMask = slotCount - 1
    }

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    /// The value stored for `key` under `tag`, or nil.
    @inline(__always)
    func value(for key: UnsafeRawBufferPointer, tag: UInt32 = 0) -> Int? {
        if entries.isEmpty { return nil }
        let hash = Self.hash(key, tag: tag, matching: matching)
        return keyBytes.withUnsafeBytes { store in
            entries.withUnsafeBufferPointer { entries in
                slots.withUnsafeBufferPointer { slots in
                    var slot = Int(truncatingIfNeeded: hash) & slotMask
                    while true {
                        let occupant = slots[slot]
                        if occupant == 0 { return nil }
                        let entry = entries[Int(occupant) - 1]
                        if entry.hash == hash, entry.tag == tag, Int(entry.length) == key.count {
                            let stored = store.slice(Int(entry.offset)..<Int(entry.offset + entry.length))
                            if matches(stored, key) { return Int(entry.value) }
                        }
                        // The table is at most half full, so an empty slot ends every probe.
                        slot = (slot + 1) & slotMask
                    }
                }
            }
        }
    }

    @inline(__always)
    private func matches(_ stored: UnsafeRawBufferPointer, _ probe: UnsafeRawBufferPointer) -> Bool {
        switch matching {
        case .exact: ByteCompare.equal(stored, probe)
        case .asciiCaseInsensitive: ASCII.equalsCaseInsensitive(probe, lowercased: stored)
        }
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer, tag: UInt32, matching: Matching) -> UInt64 {
        switch matching {
        case .exact: ByteHash.exact(bytes, seed: UInt64(tag))
        case .asciiCaseInsensitive: ByteHash.asciiCaseInsensitive(bytes)
        }
    }
}

import DevmeshBytes

/// One routing key found in a request: its bytes and the carrier that held it.
///
/// `key` points into the `RoutingKeyCandidates` storage and stays valid until that list is
/// reset (the next extraction), so copy it if it must outlive the request.
public struct RoutingKeyCandidate {
    public let key: UnsafeRawBufferPointer
    public let carrier: RoutingKeyCarrier
}

/// The routing keys of one request: ordered by precedence, de-duplicated, at most eight.
///
/// Caller-owned and reused: each worker (or each HTTP/2 stream slot) keeps one instance and
/// the extractor resets it per request. All memory is allocated once in `init`, so the
/// steady state allocates nothing.
///
/// ## Ordering
/// The list always equals: take every key the request carries, sort them stably by
/// (carrier precedence, key-name or custom-header position), keeping arrival order among
/// equals; drop every repeat of a key already listed; keep the first eight.
/// The extractor reads the headers once, in arrival order, so keys arrive out of precedence
/// order (a `uberctx-` line may come before `baggage`). `offer` therefore inserts each key
/// at its place, replaces a lower-ranked copy of the same key, and evicts the last entry when
/// the list is full.
///
/// ## Storage
/// Nine fixed slots of `maxKeyLength` bytes: eight for kept keys and one spare, so a key can
/// be decoded straight into a free slot and kept without a copy (or dropped by not marking
/// the slot used). The ordered list itself is a small array of entries naming their slot.
public final class RoutingKeyCandidates {
    /// The most candidates kept per request.
    public static let capacity = 8

    private static let slotCount = capacity + 1
    private static let slotSize = RoutingKeyAlphabet.maxKeyLength

    private struct Entry {
        var slot: UInt8
        var length: UInt8
        var carrier: RoutingKeyCarrier
        /// `carrier` precedence in the high half, key-name / custom-header position in the low.
        var rank: UInt32
    }

    /// `slotCount * slotSize` bytes of key storage.
    private let slots: UnsafeMutableRawPointer
    /// `capacity` entries, the first `count` of which are in use, in list order.
    private let entries: UnsafeMutablePointer<Entry>
    /// Bit `s` set = slot `s` holds a kept key.
    private var usedSlots: UInt16 = 0
    public private(set) var count = 0

    public init() {
        slots = .allocate(byteCount: Self.slotCount * Self.slotSize, alignment: 16)
        entries = .allocate(capacity: Self.capacity)
        entries.initialize(repeating: Entry(slot: 0, length: 0, carrier: .customHeader, rank: 0),
                           count: Self.capacity)
    }

    deinit {
        entries.deinitialize(count: Self.capacity)
        entries.deallocate()
        slots.deallocate()
    }

    public var isEmpty: Bool { count == 0 }

    /// Forgets every candidate; previously returned key views become invalid.
    public func reset() {
        count = 0
        usedSlots = 0
    }

    /// The bytes of candidate `index` (0 = highest precedence).
    public func key(at index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "candidate index out of range")
        let entry = entries[index]
        // SAFETY: `entry.slot < slotCount` and `entry.length <= slotSize`, so the view lies
        // inside the `slots` allocation.
        return UnsafeRawBufferPointer(start: slots + Int(entry.slot) * Self.slotSize,
                                      count: Int(entry.length))
    }

    /// The carrier of candidate `index`.
    public func carrier(at index: Int) -> RoutingKeyCarrier {
        precondition(index >= 0 && index < count, "candidate index out of range")
        return entries[index].carrier
    }

    public subscript(index: Int) -> RoutingKeyCandidate {
        RoutingKeyCandidate(key: key(at: index), carrier: carrier(at: index))
    }

    /// The keys as strings, for logs and tests. Allocates: never on the request path.
    public var keysForDebugging: [String] {
        (0..<count).map { key(at: $0).debugString }
    }

    /// Decodes `rawValue` as a routing key and, if it is one, inserts it at its precedence.
    ///
    /// - Parameters:
    ///   - escapes: whether `%XX` is decoded (see `RoutingKeyDecoding`).
    ///   - carrier: the carrier it came from (first part of the rank).
    ///   - position: the key name's (or custom header's) position in the configuration
    ///     (second part of the rank).
    func offer(_ rawValue: UnsafeRawBufferPointer, escapes: RoutingKeyDecoding.Escapes,
               carrier: RoutingKeyCarrier, position: Int) {
        let rank = UInt32(carrier.rawValue) << 16 | UInt32(truncatingIfNeeded: position & 0xFFFF)
        let capacity = Self.capacity
        // A full list whose last entry ranks at or before this one cannot change: every kept
        // key then ranks before it, including any copy of the same key.
        if count == capacity, entries[capacity - 1].rank <= rank { return }

        // At most eight of the nine slots are used, so a free one exists.
        let slot = (~usedSlots).trailingZeroBitCount
        let slotStart = slots + slot * Self.slotSize
        guard let length = RoutingKeyDecoding.decode(rawValue, escapes: escapes, into: slotStart)
        else { return }
        // SAFETY: `decode` wrote `length <= slotSize` bytes at `slotStart`, inside `slots`.
        let decoded = UnsafeRawBufferPointer(start: slotStart, count: length)

        for index in 0..<count where ByteCompare.equal(key(at: index), decoded) {
            if entries[index].rank <= rank { return }
            remove(at: index)
            break
        }

        var position = count
        while position > 0, entries[position - 1].rank > rank { position -= 1 }
        if count == capacity {
            // `position < capacity` here (the early exit above), so the last entry goes.
            usedSlots &= ~(1 << UInt16(entries[capacity - 1].slot))
            count -= 1
        }
        var index = count
        while index > position {
            entries[index] = entries[index - 1]
            index -= 1
        }
        entries[position] = Entry(slot: UInt8(slot), length: UInt8(length), carrier: carrier, rank: rank)
        usedSlots |= 1 << UInt16(slot)
        count += 1
    }

    private func remove(at index: Int) {
        usedSlots &= ~(1 << UInt16(entries[index].slot))
        var cursor = index
        while cursor + 1 < count {
            entries[cursor] = entries[cursor + 1]
            cursor += 1
        }
        count -= 1
    }
}

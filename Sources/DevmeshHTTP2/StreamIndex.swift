/// Stream id -> slot, an open-addressing table with linear probing.
///
/// Why not a `Dictionary`: its seeded SipHash cost 3 % of an exchange. Stream ids of one side are
/// consecutive odd (or even) numbers, so `id >> 1` is already a perfect hash for the window of
/// live streams: consecutive streams land in consecutive buckets and collide only when the
/// window wraps the table. The table is kept at most half full (it doubles beyond that, which
/// happens only while a connection's concurrency grows), so probes stay short. Deletion shifts
/// the following entries back instead of leaving tombstones, so the table never degrades.
struct StreamIndex {
    private var keys: UnsafeMutablePointer<Int32>
    private var slots: UnsafeMutablePointer<Int32>
    private var mask: Int
    private(set) var count = 0

    /// A table with room for `expected` entries at half load.
    init(expected: Int) {
        var capacity = 16
        while capacity < 2 * expected { capacity *= 2 }
        mask = capacity - 1
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
    }

    func deallocate() {
        keys.deallocate()
        slots.deallocate()
    }

    @inline(__always)
    private func home(_ id: Int32) -> Int { Int(UInt32(bitPattern: id) >> 1) & mask }

    /// The slot of `id` (ids are positive; 0 marks an empty bucket).
    @inline(__always)
    func find(_ id: Int32) -> Int? {
        var index = home(id)
        // SAFETY: index is always masked into 0...mask, the table's bounds.
        while keys[index] != 0 {
            if keys[index] == id { return Int(slots[index]) }
            index = (index + 1) & mask
        }
        return nil
    }

    /// Adds `id` (not present yet).
    mutating func insert(_ id: Int32, slot: Int) {
        if 2 * (count + 1) > mask + 1 { grow() }
        var index = home(id)
        while keys[index] != 0 { index = (index + 1) & mask }
        keys[index] = id
        slots[index] = Int32(slot)
        count += 1
    }

    /// Removes `id` if present, moving later entries of its probe run back into the gap.
    mutating func remove(_ id: Int32) {
        var index = home(id)
        while keys[index] != id {
            if keys[index] == 0 { return }
            index = (index + 1) & mask
        }
        count -= 1
        var gap = index
        var next = index
        while true {
            next = (next + 1) & mask
            if keys[next] == 0 { break }
            // An entry may fill the gap only if its home is not inside (gap, next]: otherwise it
            // would move before the bucket where a search for it starts.
            let wanted = home(keys[next])
            let homeInRange = gap <= next ? (gap < wanted && wanted <= next) : (gap < wanted || wanted <= next)
            if homeInRange { continue }
            keys[gap] = keys[next]
            slots[gap] = slots[next]
            gap = next
        }
        keys[gap] = 0
    }

    /// Every slot in the table, in no particular order.
    func forEach(_ body: (Int) -> Void) {
        for index in 0...mask where keys[index] != 0 { body(Int(slots[index])) }
    }

    private mutating func grow() {
        let oldKeys = keys, oldSlots = slots, oldCapacity = mask + 1
        let capacity = 2 * oldCapacity
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        mask = capacity - 1
        count = 0
        for index in 0..<oldCapacity where oldKeys[index] != 0 {
            insert(oldKeys[index], slot: Int(oldSlots[index]))
        }
        oldKeys.deallocate()
        oldSlots.deallocate()
    }
}

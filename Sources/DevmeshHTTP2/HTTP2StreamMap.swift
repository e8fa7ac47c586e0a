/// Stream id -> value, an open-addressing table with linear probing. The session maps ids to its
/// stream slots with it; the proxy maps them to the exchanges of a connection.
///
/// Why not a `Dictionary`: its seeded SipHash, its copy-on-write uniqueness check and its generic
/// probing cost 3 % of an exchange in the session and another 4 % in the proxy's two per-connection
/// tables (callgrind, gRPC unary). The home bucket is a Fibonacci hash of the id (one multiply and
/// a shift). Not `id >> 1`, although that maps the window of live streams (consecutive odd or even
/// ids) onto consecutive buckets without a collision: it packs them into one long run, and
/// deleting from a run must scan it to its end (below), so every stream close cost a walk over
/// every open stream (625 instructions per gRPC call at 32 streams per connection, callgrind). The
/// table is kept at most half full (it doubles beyond that, which happens only while a
/// connection's concurrency grows), so runs stay short. Deletion shifts the following entries back
/// instead of leaving tombstones, so the table never degrades.
///
/// Values are held strongly (a class value is retained while it is in the table). The storage is
/// manual: call `deallocate()` once, when the owner goes away. `@inlinable` so that the proxy's
/// `HTTP2StreamMap<StreamExchange>` is specialised at its call sites instead of going through
/// generic witness calls across the module boundary. Not thread-safe.
public struct HTTP2StreamMap<Value> {
    /// Stream ids; 0 marks an empty bucket (stream 0 is the connection, never a key).
    @usableFromInline var keys: UnsafeMutablePointer<Int32>
    /// `values[i]` is initialised exactly when `keys[i] != 0`.
    @usableFromInline var values: UnsafeMutablePointer<Value>
    @usableFromInline var mask: Int
    /// 64 - log2(capacity): the top bits of the product are the bucket.
    @usableFromInline var shift: UInt64
    @usableFromInline var storedCount = 0

    /// Entries in the table.
    @inlinable
    public var count: Int { storedCount }

    /// A table with room for `expected` entries at half load.
    @inlinable
    public init(expected: Int) {
        var capacity = 16
        while capacity < 2 * expected { capacity *= 2 }
        mask = capacity - 1
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
    }

    /// Releases the values still in the table and frees the storage. The map is unusable after.
    @inlinable
    public func deallocate() {
        for index in 0...mask where keys[index] != 0 { (values + index).deinitialize(count: 1) }
        keys.deallocate()
        values.deallocate()
    }

    @inlinable
    public var isEmpty: Bool { storedCount == 0 }

    @inlinable @inline(__always)
    func home(_ id: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: id)) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The bucket holding `id`, or nil.
    @inlinable @inline(__always)
    func bucket(of id: Int32) -> Int? {
        var index = home(id)
        // SAFETY: index is always masked into 0...mask, the table's bounds.
        while keys[index] != 0 {
            if keys[index] == id { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    /// The value of `id` (ids are positive).
    @inlinable @inline(__always)
    public subscript(id: Int32) -> Value? {
        guard let index = bucket(of: id) else { return nil }
        // SAFETY: a bucket with a key holds an initialised value.
        return values[index]
    }

    /// Adds `id`, which must not be in the table yet.
    @inlinable
    public mutating func insert(_ id: Int32, _ value: Value) {
        assert(id > 0 && bucket(of: id) == nil, "HTTP2StreamMap.insert: bad or duplicate id \(id)")
        if 2 * (storedCount + 1) > mask + 1 { grow() }
        var index = home(id)
        while keys[index] != 0 { index = (index + 1) & mask }
        keys[index] = id
        (values + index).initialize(to: value)
        storedCount += 1
    }

    /// Removes `id` and returns its value, if it was there, moving later entries of its probe run
    /// back into the gap.
    @inlinable
    @discardableResult
    public mutating func removeValue(for id: Int32) -> Value? {
        guard var gap = bucket(of: id) else { return nil }
        let removed = (values + gap).move()
        storedCount -= 1
        var next = gap
        while true {
            next = (next + 1) & mask
            if keys[next] == 0 { break }
            // An entry may fill the gap only if its home is not inside (gap, next]: otherwise it
            // would move before the bucket where a search for it starts.
            let wanted = home(keys[next])
            let homeInRange = gap <= next ? (gap < wanted && wanted <= next) : (gap < wanted || wanted <= next)
            if homeInRange { continue }
            keys[gap] = keys[next]
            (values + gap).moveInitialize(from: values + next, count: 1)
            gap = next
        }
        keys[gap] = 0
        return removed
    }

    /// Empties the table and returns what it held, in no particular order (connection teardown:
    /// the caller may then notify each value while the table already looks empty).
    @inlinable
    public mutating func removeAll() -> [Value] {
        var taken: [Value] = []
        taken.reserveCapacity(count)
        for index in 0...mask where keys[index] != 0 {
            taken.append((values + index).move())
            keys[index] = 0
        }
        storedCount = 0
        return taken
    }

    /// Every id and value in the table, in no particular order. `body` must not change the map.
    @inlinable
    public func forEach(_ body: (Int32, Value) -> Void) {
        for index in 0...mask where keys[index] != 0 { body(keys[index], values[index]) }
    }

    @usableFromInline
    mutating func grow() {
        let oldKeys = keys, oldValues = values, oldCapacity = mask + 1
        let capacity = 2 * oldCapacity
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
        mask = capacity - 1
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        storedCount = 0
        for index in 0..<oldCapacity where oldKeys[index] != 0 {
            insert(oldKeys[index], (oldValues + index).move())
        }
        oldKeys.deallocate()
        oldValues.deallocate()
    }
}

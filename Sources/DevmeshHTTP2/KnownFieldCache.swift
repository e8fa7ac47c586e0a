internal import CNghttp2

/// Fields of this connection already found valid, by the identity of the buffers nghttp2
/// decoded them into, so a field sent again is not checked again.
///
/// Why it works: HPACK (RFC 7541 §2.3.2) lets the peer send a field it sent before as an index
/// into the connection's dynamic table, and nghttp2 then hands over the very `nghttp2_rcbuf`
/// objects of that table entry again. A gRPC client repeats most of its fields on every call
/// (content-type, user-agent, te, grpc-accept-encoding...), and the server's responses do too.
/// A buffer's bytes never change, and the cache holds a reference on both buffers of each entry,
/// so no other field can be decoded at a remembered address while it is remembered: the same
/// pair of addresses is the same, valid, field.
///
/// Only fields that are valid wherever they appear are remembered (`FieldVerdict.acceptPlain`: a
/// regular field none of the message rules single out), and only short ones (what a remembered
/// field keeps alive after the peer's table dropped it stays small). Direct-mapped by the value's
/// address: a lookup is two compares, a collision just replaces the older entry. The storage is
/// allocated at the first field remembered, so a connection that never receives headers costs
/// nothing.
struct KnownFieldCache {
    static let entries = 16
    /// Longest name plus value remembered, bytes.
    static let maxFieldBytes = 128

    /// `entries` name buffers, then `entries` value buffers; nil until the first insert.
    private var buffers: UnsafeMutablePointer<OpaquePointer?>?

    @inline(__always)
    private static func index(of value: OpaquePointer) -> Int {
        // nghttp2 allocates its buffers at least 16-byte aligned: skip the always-zero bits.
        Int(truncatingIfNeeded: UInt(bitPattern: UnsafeRawPointer(value)) >> 4) & (entries - 1)
    }

    /// True when this exact pair of buffers was remembered.
    @inline(__always)
    func contains(name: OpaquePointer, value: OpaquePointer) -> Bool {
        guard let buffers else { return false }
        let slot = Self.index(of: value)
        // SAFETY: slot < entries, and the storage holds 2 * entries pointers.
        return buffers[Self.entries + slot] == value && buffers[slot] == name
    }

    /// Remembers a valid field of `byteCount` bytes (name plus value), replacing whatever shared
    /// its slot.
    @inline(__always)
    mutating func remember(name: OpaquePointer, value: OpaquePointer, byteCount: Int) {
        guard byteCount <= Self.maxFieldBytes else { return }
        let storage: UnsafeMutablePointer<OpaquePointer?>
        if let buffers {
            storage = buffers
        } else {
            storage = .allocate(capacity: 2 * Self.entries)
            storage.initialize(repeating: nil, count: 2 * Self.entries)
            buffers = storage
        }
        let slot = Self.index(of: value)
        nghttp2_rcbuf_incref(name)
        nghttp2_rcbuf_incref(value)
        // SAFETY: slot < entries; the old entry's references are dropped once replaced.
        if let old = storage[slot] { nghttp2_rcbuf_decref(old) }
        if let old = storage[Self.entries + slot] { nghttp2_rcbuf_decref(old) }
        storage[slot] = name
        storage[Self.entries + slot] = value
    }

    /// Drops every reference and the storage (before the nghttp2 session is deleted: the
    /// buffers live in its memory).
    mutating func releaseAll() {
        guard let buffers else { return }
        for index in 0..<(2 * Self.entries) {
            if let buffer = buffers[index] { nghttp2_rcbuf_decref(buffer) }
        }
        buffers.deallocate()
        self.buffers = nil
    }
}

import DevmeshBytes

/// A read-only window on the bytes being parsed, and the one place where the head parsers read
/// raw memory. Every other file works with integer offsets into a `RawBytes`.
///
/// Invariant: `start` points at `count` readable bytes for the whole parse (the caller's buffer
/// does not move or shrink while a parse function runs). Each reader below states why its offsets
/// stay inside `0..<count`; debug builds also `assert` it, and the tests place every input just
/// before an inaccessible guard page so that an over-read would crash them.
///
/// The word-at-a-time scans use the classic "find a zero byte" bit trick on 8 bytes at once
/// (the lowest flagged byte is always exact, only bytes above a real hit can be flagged wrongly),
/// and fall back to single bytes for the tail, so they never read past `end`.
struct RawBytes {
    let start: UnsafeRawPointer
    let count: Int

    /// Returns nil for an empty buffer, which every caller treats as "need more bytes".
    init?(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return nil }
        start = base
        count = buffer.count
    }

    @inline(__always)
    subscript(_ offset: Int) -> UInt8 {
        assert(offset >= 0 && offset < count, "RawBytes read out of bounds")
        // SAFETY: callers only pass offsets they have compared with `count` or with an end
        // offset that is itself <= `count` (see the invariant above).
        return start.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// The bytes `from..<to` as a view into the caller's buffer (no copy).
    @inline(__always)
    func view(_ from: Int, _ to: Int) -> UnsafeRawBufferPointer {
        assert(from >= 0 && from <= to && to <= count, "RawBytes view out of bounds")
        // SAFETY: 0 <= from <= to <= count, so the view lies inside the caller's buffer.
        return UnsafeRawBufferPointer(start: start + from, count: to - from)
    }

    /// Eight bytes starting at `offset`, first byte in the low bits.
    @inline(__always)
    func word(at offset: Int) -> UInt64 {
        assert(offset >= 0 && offset + 8 <= count, "RawBytes word out of bounds")
        // SAFETY: the scans below only call this while `offset + 8 <= end <= count`.
        return UInt64(littleEndian: start.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    static var ones: UInt64 { 0x0101_0101_0101_0101 }
    static var highBits: UInt64 { 0x8080_8080_8080_8080 }

    /// High bit set in each byte of `word` that is zero (exact for the lowest one).
    @inline(__always)
    static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- ones) & ~word & highBits
    }

    /// High bit set in each byte of `word` that is below `limit` (limit <= 128; exact for the
    /// lowest one). Bytes >= 0x80 never match, which is what lets obs-text through.
    @inline(__always)
    static func bytesBelow(_ limit: UInt8, in word: UInt64) -> UInt64 {
        (word &- ones &* UInt64(limit)) & ~word & highBits
    }

    /// Offset of the first LF in `from..<end`, or nil. `end` must be <= `count`.
    func firstLineFeed(from: Int, to end: Int) -> Int? {
        assert(end <= count)
        var offset = from
        while offset + 8 <= end {
            let hits = Self.zeroBytes(word(at: offset) ^ (Self.ones &* 0x0A))
            if hits != 0 { return offset + hits.trailingZeroBitCount >> 3 }
            offset += 8
        }
        while offset < end {
            if self[offset] == 0x0A { return offset }
            offset += 1
        }
        return nil
    }

    /// Offset of the first byte in `from..<end` that is below `limit` or is DEL (0x7F), or `end`
    /// when there is none. With `limit` 0x20 this finds the end of a field value (or the first
    /// control byte in it); with 0x21 it also stops at SP, for request targets.
    func firstControlByte(from: Int, to end: Int, below limit: UInt8) -> Int {
        assert(end <= count && limit <= 128)
        var offset = from
        while offset + 8 <= end {
            let word = word(at: offset)
            let hits = Self.bytesBelow(limit, in: word) | Self.zeroBytes(word ^ (Self.ones &* 0x7F))
            if hits != 0 { return offset + hits.trailingZeroBitCount >> 3 }
            offset += 8
        }
        while offset < end {
            let byte = self[offset]
            if byte < limit || byte == 0x7F { return offset }
            offset += 1
        }
        return end
    }

    /// Offset of the first byte in `from..<end` that is not a `tchar`, or `end`.
    func firstNonToken(from: Int, to end: Int) -> Int {
        var offset = from
        while offset < end, ASCII.isTokenChar(self[offset]) {
            offset += 1
        }
        return offset
    }
}

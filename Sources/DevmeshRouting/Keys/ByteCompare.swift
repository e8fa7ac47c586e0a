#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-equality helpers shared by the candidate list and the key index.
enum ByteCompare {
    /// True when the two views hold the same bytes (same length, then `memcmp`).
    @inline(__always)
    static func equal(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        let count = lhs.count
        guard count == rhs.count else { return false }
        guard let left = lhs.baseAddress, let right = rhs.baseAddress else { return true }
        if count >= 8, count <= 16 {
            // Most keys and key names are 8–16 bytes: two overlapping word compares instead of
            // a call to memcmp.
            // SAFETY: offsets 0 and `count - 8` are in 0...count-8 for both views.
            return left.loadUnaligned(as: UInt64.self) == right.loadUnaligned(as: UInt64.self)
                && left.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                    == right.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        // SAFETY: both views are valid for `count` bytes.
        return memcmp(left, right, count) == 0
    }
}

extension UnsafeRawBufferPointer {
    /// The view without leading and trailing optional whitespace (RFC 9110 §5.6.3:
    /// `OWS = *( SP / HTAB )`).
    @inline(__always)
    func trimmingOWS() -> UnsafeRawBufferPointer {
        var start = 0
        var end = count
        while start < end, self[start] == 0x20 || self[start] == 0x09 { start += 1 }
        while end > start, self[end - 1] == 0x20 || self[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: self[start..<end])
    }

    /// Index of the first `byte`, or nil.
    @inline(__always)
    func firstIndex(ofByte byte: UInt8) -> Int? {
        var index = 0
        while index < count {
            if self[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// The bytes in `range` as their own view.
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

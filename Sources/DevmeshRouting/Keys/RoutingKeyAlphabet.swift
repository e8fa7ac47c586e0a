/// The shape of a routing key and the byte classes the carrier parsers need.
///
/// Signadot publishes no grammar for keys (they are opaque, ~13 lower-case base-36 characters),
/// so the accepted alphabet is our policy (notes/carriers.md §7): after any decoding a key is
/// 1–128 bytes of `[A-Za-z0-9._-]`. Anything else means "no key from this member", never an
/// error: a malformed trace header must not fail the request.
///
/// Byte classes are 128-bit masks held in two `UInt64` literals, so a membership test is a
/// shift and an AND with constants the optimiser folds (no table in memory, no lazy global).
public enum RoutingKeyAlphabet {
    /// Longest accepted key, in bytes after decoding.
    public static let maxKeyLength = 128

    /// True for `[A-Za-z0-9._-]`.
    @inlinable @inline(__always)
    public static func isKeyByte(_ byte: UInt8) -> Bool {
        // '-' 0x2D, '.' 0x2E, '0'...'9' 0x30...0x39 (all below 0x40).
        let low: UInt64 = (1 << 0x2D) | (1 << 0x2E) | (0x3FF << 0x30)
        // 'A'...'Z' 0x41...0x5A, '_' 0x5F, 'a'...'z' 0x61...0x7A (bit = byte - 0x40).
        let high: UInt64 = (0x3FF_FFFF << 0x01) | (1 << 0x1F) | (0x3FF_FFFF << 0x21)
        return inMask(byte, low: low, high: high)
    }

    /// True when every byte of `key` is a key byte and the length is 1...maxKeyLength.
    /// Used when a table is built (route keys from configuration); the request path checks
    /// bytes while it decodes them instead.
    public static func isValidKey(_ key: some Collection<UInt8>) -> Bool {
        guard !key.isEmpty, key.count <= maxKeyLength else { return false }
        return key.allSatisfy(isKeyByte)
    }

    /// The value of one hexadecimal digit (`0-9`, `A-F`, `a-f`), or nil.
    /// RFC 3986 §2.1: "The uppercase hexadecimal digits 'A' through 'F' are equivalent to the
    /// lowercase digits 'a' through 'f', respectively."
    @inlinable @inline(__always)
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    @usableFromInline @inline(__always)
    static func inMask(_ byte: UInt8, low: UInt64, high: UInt64) -> Bool {
        if byte < 0x40 { return (low >> UInt64(byte)) & 1 != 0 }
        if byte < 0x80 { return (high >> UInt64(byte &- 0x40)) & 1 != 0 }
        return false
    }
}

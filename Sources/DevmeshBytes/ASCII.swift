/// Byte-level ASCII helpers shared by the codecs and the router. HTTP is parsed as bytes:
/// no `String` per header, and case-insensitive comparison on raw bytes.
public enum ASCII {
    /// Lower-case one ASCII byte; other bytes are returned unchanged.
    @inlinable @inline(__always)
    public static func lower(_ byte: UInt8) -> UInt8 {
        // 'A'...'Z' -> 'a'...'z' without a branch table.
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// Compares `bytes` with `lowercased` ignoring ASCII case in `bytes` only. `lowercased` must
    /// already be lower case (it is always a constant the caller wrote).
    @inlinable
    public static func equalsCaseInsensitive(_ bytes: UnsafeRawBufferPointer,
                                             lowercased: StaticString) -> Bool {
        let count = lowercased.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        let expected = lowercased.utf8Start
        for index in 0..<count where lower(bytes[index]) != expected[index] {
            return false
        }
        return true
    }

    /// Compares `bytes` with `literal` byte for byte, a word at a time: for names known to be
    /// lower case already (HTTP/2 field names: the session rejects any other on receive), where a
    /// case-folding byte loop cost 100 instructions per field of a gRPC request head.
    @inlinable @inline(__always)
    public static func equalsExactly(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        guard count > 0, let base = bytes.baseAddress else { return true }
        let expected = UnsafeRawPointer(literal.utf8Start)
        // Two loads that may overlap cover any length from the word size to twice it; shorter
        // and longer literals take the general path.
        // SAFETY: every load below lies inside the `count` bytes of both sides.
        switch count {
        case 4...7:
            return base.loadUnaligned(as: UInt32.self) == expected.loadUnaligned(as: UInt32.self)
                && base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                == expected.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        case 8...16:
            return base.loadUnaligned(as: UInt64.self) == expected.loadUnaligned(as: UInt64.self)
                && base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                == expected.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        default:
            for index in 0..<count where bytes[index] != expected.load(fromByteOffset: index, as: UInt8.self) {
                return false
            }
            return true
        }
    }

    /// Compares `bytes` with `lowercased` ignoring ASCII case in `bytes` only.
    @inlinable
    public static func equalsCaseInsensitive(_ bytes: UnsafeRawBufferPointer,
                                             lowercased: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == lowercased.count else { return false }
        for index in 0..<bytes.count where lower(bytes[index]) != lowercased[index] {
            return false
        }
        return true
    }

    /// True when `bytes` starts with `lowercasedPrefix`, ignoring ASCII case in `bytes`.
    @inlinable
    public static func hasPrefixCaseInsensitive(_ bytes: UnsafeRawBufferPointer,
                                                lowercased prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        let expected = prefix.utf8Start
        for index in 0..<count where lower(bytes[index]) != expected[index] {
            return false
        }
        return true
    }

    /// RFC 9110 §5.6.2 `tchar`: the bytes allowed in a token (header names, methods).
    ///
    /// A 128-bit membership mask held in two constants: no table in memory, no lazy global to
    /// initialise, no bounds check. Parsers call this once per byte of every header name.
    @inlinable @inline(__always)
    public static func isTokenChar(_ byte: UInt8) -> Bool {
        // Bit n of `below64` is set when byte n (0..<64) is a tchar: ! # $ % & ' * + - . and 0-9.
        let below64: UInt64 = 0x03FF_6CFA_0000_0000
        // Bit n of `from64` is set when byte 64 + n is a tchar: A-Z ^ _ ` a-z | ~.
        let from64: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        let mask = byte < 64 ? below64 : from64
        return byte < 128 && (mask >> UInt64(byte & 63)) & 1 != 0
    }

    /// Optional whitespace (RFC 9110 §5.6.3): SP or HTAB.
    @inlinable @inline(__always)
    public static func isOWS(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    /// Compares two byte strings ignoring ASCII case on both sides (for example a token from a
    /// `Connection` list against a header name, neither of which is known to be lower case).
    @inlinable
    public static func equalsIgnoringCase(_ lhs: UnsafeRawBufferPointer,
                                          _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in 0..<lhs.count where lower(lhs[index]) != lower(rhs[index]) {
            return false
        }
        return true
    }
}

extension UnsafeRawBufferPointer {
    /// A short-lived `String` for logs, errors and tests. Never call it on the request path.
    public var debugString: String {
        String(decoding: self, as: UTF8.self)
    }
}

/// Hashes for the two lookups on the request path: routing keys (exact bytes) and Host names
/// (ASCII case-insensitive). Both tables are built from trusted configuration, so the probe
/// lengths are fixed when the table is built: a request can choose which key it asks for,
/// never how the table is laid out, so a keyed (SipHash-style) hash would buy nothing here.
enum ByteHash {
    /// Multiply-xorshift over 8-byte words: a 13-byte routing key costs two multiplies instead
    /// of thirteen for a byte-at-a-time hash.
    @inline(__always)
    static func exact(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var hash = (seed ^ UInt64(truncatingIfNeeded: bytes.count)) &* multiplier
        let count = bytes.count
        var index = 0
        while index + 8 <= count {
            // SAFETY: `index + 8 <= count`, so the 8-byte load stays inside `bytes`.
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            hash = mix(hash ^ word)
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < count {
            tail |= UInt64(bytes[index]) << shift
            shift += 8
            index += 1
        }
        return finish(mix(hash ^ tail))
    }

    /// FNV-1a over ASCII-lower-cased bytes: `Example.COM` and `example.com` hash alike.
    /// Host names are hashed once per request, so the simple byte loop is enough.
    @inline(__always)
    static func asciiCaseInsensitive(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(lowerASCII(byte))) &* 0x0000_0100_0000_01B3
        }
        return finish(hash)
    }

    @inline(__always)
    static func lowerASCII(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        let product = value &* 0xBF58_476D_1CE4_E5B9
        return product ^ (product >> 31)
    }

    /// Final avalanche so that the low bits, which pick the slot, depend on every input bit.
    @inline(__always)
    private static func finish(_ value: UInt64) -> UInt64 {
        var hash = value
        hash ^= hash >> 33
        hash &*= 0xFF51_AFD7_ED55_8CCD
        hash ^= hash >> 33
        return hash
    }
}

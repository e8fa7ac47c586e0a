import DevmeshBytes

/// Which bytes a received HTTP/2 field may hold (RFC 9113 §8.2.1, RFC 9110 §5.1 and §5.5), with
/// the exact character sets libnghttp2 1.52 applied while its HTTP messaging checks were on
/// (`nghttp2_check_header_name`, `_header_value_rfc9113`, `_method`, `_path`, `_authority` and
/// its scheme rule). `FieldSyntaxTests` compares every byte value against a session that still
/// lets nghttp2 check, so a difference shows as a failing row.
///
/// Why not nghttp2's own functions: they cost a call and a table load per byte (80 instructions
/// per name, 86 per value on a gRPC call, callgrind). Here the sets are 128-bit membership masks
/// held in two constants, and the common case is checked eight bytes at a time (`Words`): a
/// value or path has no byte below 0x20 (0x21) and no DEL; a name is made of a-z, 0-9 and '-';
/// an authority of letters, digits, '-', '.' and ':'. Only input outside that common case is
/// looked at byte by byte, exactly.
enum FieldSyntax {
    /// RFC 9113 §8.2.1: "A field name MUST NOT contain characters in the ranges 0x00-0x20,
    /// 0x41-0x5a, or 0x7f-0xff (all ranges inclusive)", on top of RFC 9110's `token`: one or more
    /// lower-case tchar. (A pseudo-header's leading ':' is not part of what this checks.)
    @inline(__always)
    static func isLowercaseToken(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return false }
        // Nearly every name is made of a-z, 0-9 and '-': a word at a time. Any other byte (the
        // rest of tchar, or an invalid one) sends the name through the exact byte test.
        if Words.all(bytes, padding: 0x61, { word in
            word & Words.highBits == 0
                && (Words.between(word, 0x61, 0x7A) | Words.between(word, 0x30, 0x39) | Words.equal(word, 0x2D))
                & Words.highBits == Words.highBits
        }) {
            return true
        }
        // Bit n of `below64`: byte n is ! # $ % & ' * + - . or 0-9. Bit n of `from64`: byte 64+n
        // is ^ _ ` a-z | or ~.
        return bytes.allSatisfy { inMask($0, below64: 0x03FF_6CFA_0000_0000, from64: 0x57FF_FFFF_C000_0000) }
    }

    /// An upper-case letter: nghttp2 treated such a name as malformed outright, while a name with
    /// other invalid bytes was an invalid field (counted apart, `invalidHeaderFields`).
    static func containsUppercase(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.contains { $0 &- 0x41 < 26 }
    }

    /// RFC 9113 §8.2.1: a value holds no NUL, CR or LF, and "MUST NOT start or end with an ASCII
    /// whitespace character (ASCII SP or HTAB, 0x20 or 0x09)". nghttp2 (and RFC 9110 §5.5's
    /// `field-content`) also refuse the other control bytes and DEL: allowed are HTAB, SP,
    /// VCHAR and obs-text (0x80-0xff). An empty value is allowed.
    @inline(__always)
    static func isFieldValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return true }
        // SAFETY: `count` > 0, so bytes 0 and count - 1 exist.
        if ASCII.isOWS(base.load(as: UInt8.self)) || ASCII.isOWS(base.load(fromByteOffset: count - 1, as: UInt8.self)) {
            return false
        }
        // A word with no control byte and no DEL is valid; one with either (a HTAB, or an
        // invalid byte) is judged byte by byte.
        if Words.all(bytes, padding: 0x61, { word in
            (Words.below(word, 0x20) | Words.equal(word, 0x7F)) & Words.highBits == 0
        }) {
            return true
        }
        return bytes.allSatisfy { ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }
    }

    /// `:path` (nghttp2_check_path): one or more bytes, none of them a control byte, SP or DEL
    /// (what a field value may hold, minus SP and HTAB). The shape of the path is judged at the
    /// end of the head (`MessageState.endOfRequestHead`).
    @inline(__always)
    static func isPath(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && Words.all(bytes, padding: 0x61, { word in
            (Words.below(word, 0x21) | Words.equal(word, 0x7F)) & Words.highBits == 0
        })
    }

    /// `:method` (RFC 9110 §9.1: a token, either case).
    @inline(__always)
    static func isMethod(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return false }
        if Words.all(bytes, padding: 0x41, { word in
            word & Words.highBits == 0 && Words.between(word, 0x41, 0x5A) & Words.highBits == Words.highBits
        }) {
            return true
        }
        return bytes.allSatisfy(ASCII.isTokenChar)
    }

    /// `:authority` and, on a server, `host` (nghttp2_check_authority): only the characters of
    /// RFC 3986 §3.2's authority (unreserved, sub-delims, ':', '@', '[', ']', '%'); the syntax
    /// itself is not checked. Empty passes here (the caller decides).
    @inline(__always)
    static func isAuthority(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Host names, addresses and ports (letters, digits, '-', '.', ':') a word at a time;
        // anything else byte by byte.
        if Words.all(bytes, padding: 0x61, { word in
            let letters = Words.between(word | 0x2020_2020_2020_2020, 0x61, 0x7A)
            let digitsDotsColons = Words.between(word, 0x2D, 0x3A) & ~Words.equal(word, 0x2F)
            return word & Words.highBits == 0 && (letters | digitsDotsColons) & Words.highBits == Words.highBits
        }) {
            return true
        }
        return bytes.allSatisfy { inMask($0, below64: 0x2FFF_7FF2_0000_0000, from64: 0x47FF_FFFE_AFFF_FFFF) }
    }

    /// `:scheme` (RFC 3986 §3.1): `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    @inline(__always)
    static func isScheme(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let first = bytes.first, (first | 0x20) &- 0x61 < 26 else { return false }
        for index in 1..<bytes.count {
            let byte = bytes[index]
            let letter = (byte | 0x20) &- 0x61 < 26
            let digit = byte &- 0x30 < 10
            if !(letter || digit || byte == 0x2B || byte == 0x2D || byte == 0x2E) { return false }
        }
        return true
    }

    /// A 128-bit membership mask in two constants (as `ASCII.isTokenChar`): bit n of `below64`
    /// for byte n < 64, bit n of `from64` for byte 64 + n; bytes from 128 up are never members.
    @inline(__always)
    static func inMask(_ byte: UInt8, below64: UInt64, from64: UInt64) -> Bool {
        let mask = byte < 64 ? below64 : from64
        return byte < 128 && (mask >> UInt64(byte & 63)) & 1 != 0
    }
}

/// Eight bytes at a time (SWAR). Each test sets the high bit of every byte of its result that
/// passes; the others clear it. `between` and `below` hold for ASCII bytes (high bit clear), so
/// callers that need exactness above 0x7F test the high bits of the word first.
enum Words {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080
    static let lowSeven: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// Byte == `value`, exact for every byte (no carry crosses a byte).
    @inline(__always)
    static func equal(_ word: UInt64, _ value: UInt8) -> UInt64 {
        let difference = word ^ (ones &* UInt64(value))
        return ~(((difference & lowSeven) &+ lowSeven) | difference)
    }

    /// `low` <= byte <= `high` (ASCII bytes; `high` < 0x80).
    @inline(__always)
    static func between(_ word: UInt64, _ low: UInt8, _ high: UInt8) -> UInt64 {
        // (byte | 0x80) - low keeps the high bit exactly when byte >= low; (high | 0x80) - byte
        // keeps it exactly when byte <= high. Neither borrows from the next byte.
        ((word | highBits) &- ones &* UInt64(low)) & ((ones &* UInt64(high | 0x80)) &- word)
    }

    /// Whether some byte is below `bound` (<= 0x80): only the existence is exact (a borrow may
    /// also mark a byte above a true one), which is all the callers ask.
    @inline(__always)
    static func below(_ word: UInt64, _ bound: UInt8) -> UInt64 {
        (word &- ones &* UInt64(bound)) & ~word
    }

    /// True when `clean` holds for every word of `bytes`: whole words from the start, then the
    /// last eight bytes (overlapping is harmless: a byte is only checked twice). Shorter inputs
    /// make one word: two overlapping 4-byte halves (4 to 7 bytes), or the first, middle and
    /// last byte over `padding` bytes (1 to 3), where `padding` is a byte `clean` accepts.
    @inline(__always)
    static func all(_ bytes: UnsafeRawBufferPointer, padding: UInt8, _ clean: (UInt64) -> Bool) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return true }
        // SAFETY: every load below lies inside the `count` bytes at `base`.
        if count >= 8 {
            var offset = 0
            while offset + 8 <= count {
                if !clean(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) { return false }
                offset += 8
            }
            return offset == count || clean(base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
        }
        if count >= 4 {
            let low = UInt64(base.loadUnaligned(as: UInt32.self))
            let high = UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            return clean(low | high << 32)
        }
        let first = UInt64(base.load(as: UInt8.self))
        let middle = UInt64(base.load(fromByteOffset: count >> 1, as: UInt8.self))
        let last = UInt64(base.load(fromByteOffset: count - 1, as: UInt8.self))
        return clean((ones &* UInt64(padding)) & ~0xFF_FFFF | first | middle << 8 | last << 16)
    }
}

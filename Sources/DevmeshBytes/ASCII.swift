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
    @inlinable @inline(__always)
    public static func isTokenChar(_ byte: UInt8) -> Bool {
        tokenTable[Int(byte)]
    }

    /// Optional whitespace (RFC 9110 §5.6.3): SP or HTAB.
    @inlinable @inline(__always)
    public static func isOWS(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    @usableFromInline
    static let tokenTable: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = true }
        for byte in "!#$%&'*+-.^_`|~".utf8 { table[Int(byte)] = true }
        return table
    }()
}

extension UnsafeRawBufferPointer {
    /// A short-lived `String` for logs, errors and tests. Never call it on the request path.
    public var debugString: String {
        String(decoding: self, as: UTF8.self)
    }
}

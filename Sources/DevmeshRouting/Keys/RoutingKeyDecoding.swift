/// Turns one raw carrier value into routing-key bytes, checking the key shape as it goes.
///
/// One loop does three jobs so that a value is read once: percent-decoding (when the carrier
/// uses it), the alphabet check and the length limit. The output goes straight into a
/// candidate slot, so a rejected value costs nothing but the bytes already looked at.
enum RoutingKeyDecoding {
    /// Whether `%XX` escapes are decoded before the alphabet check.
    enum Escapes {
        /// RFC 3986 §2.1 percent-encoding (W3C baggage, and Jaeger/OT/Brave values that use it).
        /// `+` stays a literal `+`: form encoding does not apply to header values.
        case percentDecode
        /// The value is taken as it is (custom headers, `tracestate`): a `%` is then simply a
        /// byte outside the key alphabet.
        case verbatim
    }

    /// Decodes `value` into `output` (which has room for `RoutingKeyAlphabet.maxKeyLength`
    /// bytes) and returns the key length, or nil when the value is not a routing key: empty,
    /// longer than the limit after decoding, a broken escape (`%`, `%2`, `%G1`), or a byte
    /// outside `[A-Za-z0-9._-]` before or after decoding.
    ///
    /// For W3C baggage this check is stricter than the `baggage-octet` rule
    /// (`%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`): every byte it accepts (key bytes, `%`
    /// and hex digits) is a baggage-octet, so a value that passes here also passes there.
    @inline(__always)
    static func decode(_ value: UnsafeRawBufferPointer, escapes: Escapes,
                       into output: UnsafeMutableRawPointer) -> Int? {
        let limit = RoutingKeyAlphabet.maxKeyLength
        var length = 0
        var index = 0
        let count = value.count
        while index < count {
            var byte = value[index]
            index += 1
            if byte == UInt8(ascii: "%"), escapes == .percentDecode {
                // Two hex digits must follow; `%` at the end or `%2` is a broken escape.
                guard index + 2 <= count,
                      let high = RoutingKeyAlphabet.hexValue(value[index]),
                      let low = RoutingKeyAlphabet.hexValue(value[index + 1]) else { return nil }
                byte = high << 4 | low
                index += 2
            }
            guard RoutingKeyAlphabet.isKeyByte(byte), length < limit else { return nil }
            // SAFETY: `length < limit` was checked just above and the caller guarantees
            // `output` has room for `limit` bytes.
            output.storeBytes(of: byte, toByteOffset: length, as: UInt8.self)
            length += 1
        }
        return length == 0 ? nil : length
    }
}

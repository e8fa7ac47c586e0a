/// Turns fuzzer bytes into structured choices (counts, flags, short strings), for targets whose
/// input is not a byte stream of its own (route specs, header lists). Reading past the end
/// yields zeros, so every input, however short, decodes to something.
///
/// Choices use one byte each, so a one-byte mutation changes one decision: libFuzzer's
/// mutations then map onto small, local changes of the structure.
public struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { position >= bytes.count }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// A value in `0..<bound` (bound > 0).
    public mutating func int(below bound: Int) -> Int {
        Int(byte()) % bound
    }

    public mutating func bool() -> Bool {
        byte() & 1 == 1
    }

    public mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    /// Up to `maxLength` bytes, each mapped onto `alphabet`, so that most strings stay close to
    /// the grammar being tested while any byte of `alphabet` can appear anywhere.
    public mutating func string(maxLength: Int, alphabet: [UInt8]) -> String {
        let length = int(below: maxLength + 1)
        var result: [UInt8] = []
        for _ in 0..<length {
            result.append(alphabet[Int(byte()) % alphabet.count])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer {
        let start = min(position, bytes.count)
        position = bytes.count
        return UnsafeRawBufferPointer(rebasing: bytes[start...])
    }
}

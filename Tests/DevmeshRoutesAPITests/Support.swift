import DevmeshRoutesAPI
import XCTest

/// Hex helpers and a seeded generator shared by the codec tests.
enum Hex {
    static func decode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(UInt8(nibble(high) << 4 | nibble(low)))
        }
        return bytes
    }

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    private static func nibble(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        default: Int(byte - UInt8(ascii: "A") + 10)
        }
    }
}

/// SplitMix64: a tiny deterministic generator, so every fuzz run explores the same inputs and a
/// failure names a reproducible seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Decoding as a Result, so that table-driven tests can compare outcomes.
func decodeResult<Message: ProtobufMessage>(_ type: Message.Type, _ bytes: [UInt8]) -> Result<Message, ProtobufDecodingError> {
    Result { () throws(ProtobufDecodingError) in try Message(serializedBytes: bytes) }
}

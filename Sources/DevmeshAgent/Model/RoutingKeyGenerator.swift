/// Makes routing keys shaped like Signadot's: 13 lower-case base-36 characters
/// (carriers.md §7, e.g. `4835rlwxwbwyl`), about 67 bits of randomness.
public struct RoutingKeyGenerator {
    public static let length = 13
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    private var random: any RandomNumberGenerator

    /// `random`: the system's CSPRNG by default; tests pass a seeded generator.
    public init(random: any RandomNumberGenerator = SystemRandomNumberGenerator()) {
        self.random = random
    }

    /// A fresh key for which `inUse` is false. Each character is drawn uniformly (no modulo
    /// bias: `Int.random(in:using:)` rejects out-of-range draws).
    public mutating func makeKey(avoiding inUse: (String) -> Bool) -> String {
        while true {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Self.length)
            for _ in 0..<Self.length {
                bytes.append(Self.alphabet[Int.random(in: 0..<Self.alphabet.count, using: &random)])
            }
            let key = String(decoding: bytes, as: UTF8.self)
            if !inUse(key) { return key }
        }
    }
}

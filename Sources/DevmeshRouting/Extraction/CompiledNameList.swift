import DevmeshBytes

/// A short list of names (key names, custom header names) packed into one byte array, so
/// that matching a header or member against it reads contiguous memory and allocates nothing.
/// Built once per extractor; the position of a name in the list is its rank.
struct CompiledNameList: Sendable {
    /// All names back to back.
    private let bytes: [UInt8]
    /// `offsets[i]..<offsets[i + 1]` is name `i`.
    private let offsets: [Int]
    /// Bit `n` set when some name is `n` bytes long (n < 63); bit 63 stands for every longer
    /// length. Most list members (`userId`, `isProduction`) are rejected by this one test.
    private let lengths: UInt64

    /// - Parameter foldCase: store the names ASCII-lower-cased, for lists that are matched
    ///   against header names (which are case-insensitive on HTTP/1.1, RFC 9110 §5.1).
    init(_ names: [String], foldCase: Bool) {
        var bytes: [UInt8] = []
        var offsets = [0]
        for name in names {
            bytes.append(contentsOf: name.utf8.map { foldCase ? ASCII.lower($0) : $0 })
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
        lengths = zip(offsets, offsets.dropFirst()).reduce(0) { $0 | Self.lengthBit($1.1 - $1.0) }
    }

    @inline(__always)
    private static func lengthBit(_ length: Int) -> UInt64 {
        1 << UInt64(min(length, 63))
    }

    var count: Int { offsets.count - 1 }

    /// The shortest name's length (0 for an empty list).
    var shortestLength: Int {
        (0..<count).map { offsets[$0 + 1] - offsets[$0] }.min() ?? 0
    }

    /// The first byte of each non-empty name.
    var firstBytes: [UInt8] {
        (0..<count).compactMap { offsets[$0] < offsets[$0 + 1] ? bytes[offsets[$0]] : nil }
    }

    /// Index of the name equal to `candidate` byte for byte (baggage and tracestate keys:
    /// the W3C specs define no case folding for them).
    @inline(__always)
    func indexOfExact(_ candidate: UnsafeRawBufferPointer) -> Int? {
        guard lengths & Self.lengthBit(candidate.count) != 0 else { return nil }
        return bytes.withUnsafeBytes { store in
            for index in 0..<count {
                let name = store.slice(offsets[index]..<offsets[index + 1])
                if ByteCompare.equal(name, candidate) { return index }
            }
            return nil
        }
    }

    /// Index of the name equal to `candidate` ignoring ASCII case in `candidate` (the list
    /// must have been built with `foldCase: true`).
    @inline(__always)
    func indexOfCaseInsensitive(_ candidate: UnsafeRawBufferPointer) -> Int? {
        guard lengths & Self.lengthBit(candidate.count) != 0 else { return nil }
        return bytes.withUnsafeBytes { store in
            for index in 0..<count {
                let name = store.slice(offsets[index]..<offsets[index + 1])
                if ASCII.equalsCaseInsensitive(candidate, lowercased: name) { return index }
            }
            return nil
        }
    }
}

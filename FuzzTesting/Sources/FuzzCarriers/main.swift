// FuzzCarriers: RoutingKeyExtractor over arbitrary header lists.
//
// Input: one byte that picks the carrier configuration (`CarrierConfigurations`), then header
// lines separated by LF, each split at its first `:` into name and value (no `:` = empty
// value). Names and values are raw bytes: anything, including CR, NUL and non-ASCII, as an
// HTTP/2 peer or a lenient codec could hand over.
//
// Checks, for every input:
// - at most 8 candidates, each 1-128 bytes of [A-Za-z0-9._-], no key twice;
// - the candidates are exactly what `ReferenceExtraction` (a plain, allocating reading of
//   notes/carriers.md §2-§8) computes: same keys, same carriers, same order;
// - a second extraction into the same (reused) candidate list gives the same result.
import DevmeshBytes
import DevmeshRouting
import FuzzSupport

/// libFuzzer calls the target from one thread only; the list is reused like a worker's.
nonisolated(unsafe) let candidates = RoutingKeyCandidates()
let extractors = CarrierConfigurations.all.map(RoutingKeyExtractor.init)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        guard let selector = input.first else { return }
        let configuration = Int(selector) % CarrierConfigurations.all.count
        let lines = HeaderLines(UnsafeRawBufferPointer(rebasing: input.dropFirst()))
        lines.fields.withUnsafeBufferPointer { fields in
            let extractor = extractors[configuration]
            extractor.extract(from: fields, into: candidates)
            let found = (0..<candidates.count).map { Found(key: Array(candidates.key(at: $0)), carrier: candidates.carrier(at: $0)) }

            fuzzCheck(found.count <= RoutingKeyCandidates.capacity, "\(found.count) candidates")
            for candidate in found {
                fuzzCheck(!candidate.key.isEmpty && candidate.key.count <= RoutingKeyAlphabet.maxKeyLength,
                          "candidate of \(candidate.key.count) bytes")
                fuzzCheck(candidate.key.allSatisfy(ReferenceExtraction.isKeyByte), "candidate outside the key alphabet")
            }
            fuzzCheck(Set(found.map(\.key)).count == found.count, "a key listed twice")

            let expected = ReferenceExtraction(CarrierConfigurations.all[configuration]).extract(lines.pairs)
            fuzzCheck(found == expected, "extractor found \(found), reference \(expected)")

            extractor.extract(from: fields, into: candidates)
            fuzzCheck((0..<candidates.count).map { Found(key: Array(candidates.key(at: $0)), carrier: candidates.carrier(at: $0)) }
                      == found, "a second extraction into the reused list differs")
        }
    }
}

struct Found: Equatable, CustomStringConvertible {
    var key: [UInt8]
    var carrier: RoutingKeyCarrier
    var description: String { "\(carrier):\(String(decoding: key, as: UTF8.self))" }
}

/// The carrier configurations the first input byte chooses from: the default, custom headers
/// (one of which shares a first letter with the built-in carriers), unusual key names, and the
/// largest accepted lists.
enum CarrierConfigurations {
    static let all: [CarrierSpec] = [
        CarrierSpec(),
        CarrierSpec(customHeaders: ["x-sandbox", "X-B"]),
        CarrierSpec(keyNames: ["k", "sd-routing-key", "Mixed.Case", "very-long-key-name-" + String(repeating: "x", count: 60)],
                    customHeaders: ["b", "u-key", "tracestate-x"]),
        CarrierSpec(keyNames: (0..<64).map { "k\($0)" }, customHeaders: (0..<64).map { "h\($0)" }),
        CarrierSpec(keyNames: [], customHeaders: ["x"]),
    ]
}

/// The input's header lines as owned bytes and as `HeaderField` views into them.
final class HeaderLines {
    let pairs: [(name: [UInt8], value: [UInt8])]
    let fields: [HeaderField]

    init(_ bytes: UnsafeRawBufferPointer) {
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) where !line.isEmpty {
            if let colon = line.firstIndex(of: 0x3A) {
                pairs.append((Array(line[..<colon]), Array(line[(colon + 1)...])))
            } else {
                pairs.append((Array(line), []))
            }
        }
        self.pairs = pairs
        // Every name and value gets its own exact-size allocation, so an over-read of one field
        // is an ASan report rather than a read of its neighbour.
        fields = pairs.map { pair in
            HeaderField(name: Self.copy(pair.name), value: Self.copy(pair.value))
        }
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        memory.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: bytes.count))
        return UnsafeRawBufferPointer(memory)
    }

    deinit {
        for field in fields {
            UnsafeMutableRawBufferPointer(mutating: field.name).deallocate()
            UnsafeMutableRawBufferPointer(mutating: field.value).deallocate()
        }
    }
}

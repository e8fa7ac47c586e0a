import DevmeshBytes
import DevmeshRouting
import Foundation
import XCTest

/// Replays the FuzzCarriers seed corpus and every committed finding
/// (`FuzzTesting/FailCases/FuzzCarriers/`, docs/fuzzing.md) through the extractor with the
/// target's invariants. FuzzRouteTable inputs are choices decoded by the fuzz target itself, so
/// they replay through scripts/fuzz-replay.sh; a route-table finding gets a named test here,
/// written as the RoutingSpec it decoded to.
final class FuzzRegressionTests: XCTestCase {
    /// FuzzCarriers' configurations, picked by the first input byte (same order as the target).
    private let configurations: [CarrierSpec] = [
        CarrierSpec(),
        CarrierSpec(customHeaders: ["x-sandbox", "X-B"]),
        CarrierSpec(keyNames: ["k", "sd-routing-key", "Mixed.Case", "very-long-key-name-" + String(repeating: "x", count: 60)],
                    customHeaders: ["b", "u-key", "tracestate-x"]),
        CarrierSpec(keyNames: (0..<64).map { "k\($0)" }, customHeaders: (0..<64).map { "h\($0)" }),
        CarrierSpec(keyNames: [], customHeaders: ["x"]),
    ]

    func testCarrierInputsYieldAtMostEightDistinctValidKeys() throws {
        let extractors = configurations.map(RoutingKeyExtractor.init)
        let candidates = RoutingKeyCandidates()
        for input in try loadFuzzInputs("FuzzCarriers") where !input.bytes.isEmpty {
            let extractor = extractors[Int(input.bytes[0]) % extractors.count]
            let lines = input.bytes.dropFirst().split(separator: 0x0A).map { line -> (name: [UInt8], value: [UInt8]) in
                guard let colon = line.firstIndex(of: 0x3A) else { return (Array(line), []) }
                return (Array(line[..<colon]), Array(line[(colon + 1)...]))
            }
            let flat = lines.flatMap { $0.name + $0.value }
            flat.withUnsafeBytes { bytes in
                var offset = 0
                let fields = lines.map { line -> HeaderField in
                    let name = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + line.name.count])
                    offset += line.name.count
                    let value = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + line.value.count])
                    offset += line.value.count
                    return HeaderField(name: name, value: value)
                }
                fields.withUnsafeBufferPointer { extractor.extract(from: $0, into: candidates) }
            }
            let keys = candidates.keysForDebugging
            XCTAssertLessThanOrEqual(keys.count, RoutingKeyCandidates.capacity, input.name)
            XCTAssertEqual(Set(keys).count, keys.count, "\(input.name): a key listed twice")
            for key in keys {
                XCTAssertTrue(RoutingKeyAlphabet.isValidKey(key.utf8), "\(input.name): \(key.debugDescription)")
            }
        }
    }

    private func loadFuzzInputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzTesting")
        var inputs: [(name: String, bytes: [UInt8])] = []
        for folder in ["Corpus", "FailCases"] {
            let directory = root.appendingPathComponent(folder).appendingPathComponent(target)
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            where !file.hasPrefix(".") {
                inputs.append(("\(folder)/\(target)/\(file)",
                               Array(try Data(contentsOf: directory.appendingPathComponent(file)))))
            }
        }
        XCTAssertFalse(inputs.isEmpty, "no committed inputs for \(target) under \(root.path)")
        return inputs
    }
}

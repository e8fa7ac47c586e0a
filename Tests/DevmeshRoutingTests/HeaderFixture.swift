import DevmeshBytes
@testable import DevmeshRouting

/// Lays header lines out as one contiguous byte buffer (the way a codec's read buffer holds
/// them) and hands the extractor `HeaderField` views into it.
enum HeaderFixture {
    static func withFields<Result>(_ lines: [(name: String, value: String)],
                                   _ body: (UnsafeBufferPointer<HeaderField>) -> Result) -> Result {
        var bytes: [UInt8] = []
        var ranges: [(name: Range<Int>, value: Range<Int>)] = []
        for line in lines {
            let nameStart = bytes.count
            bytes.append(contentsOf: line.name.utf8)
            let valueStart = bytes.count
            bytes.append(contentsOf: line.value.utf8)
            ranges.append((nameStart..<valueStart, valueStart..<bytes.count))
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        defer { storage.deallocate() }
        storage.copyBytes(from: bytes)
        let view = UnsafeRawBufferPointer(storage)
        let fields = ranges.map {
            HeaderField(name: view.slice($0.name), value: view.slice($0.value))
        }
        return fields.withUnsafeBufferPointer(body)
    }
}

/// One extracted candidate, comparable in assertions.
struct Found: Equatable, CustomStringConvertible {
    var key: String
    var carrier: RoutingKeyCarrier

    var description: String { "\(key)@\(carrier)" }

    static func custom(_ key: String) -> Found { Found(key: key, carrier: .customHeader) }
    static func baggage(_ key: String) -> Found { Found(key: key, carrier: .baggage) }
    static func tracestate(_ key: String) -> Found { Found(key: key, carrier: .tracestate) }
    static func uberctx(_ key: String) -> Found { Found(key: key, carrier: .uberctx) }
    static func otBaggage(_ key: String) -> Found { Found(key: key, carrier: .otBaggage) }
    static func brave(_ key: String) -> Found { Found(key: key, carrier: .braveBaggage) }
    static func jaeger(_ key: String) -> Found { Found(key: key, carrier: .jaegerBaggage) }
}

extension RoutingKeyCandidates {
    var found: [Found] {
        (0..<count).map { Found(key: key(at: $0).debugString, carrier: carrier(at: $0)) }
    }
}

/// Runs one extraction with a fresh extractor and candidate list.
func extract(_ lines: [(name: String, value: String)], carriers: CarrierSpec = CarrierSpec()) -> [Found] {
    let extractor = RoutingKeyExtractor(carriers)
    let candidates = RoutingKeyCandidates()
    HeaderFixture.withFields(lines) { extractor.extract(from: $0, into: candidates) }
    return candidates.found
}

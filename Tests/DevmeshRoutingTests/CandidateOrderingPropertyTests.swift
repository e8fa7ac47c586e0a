import XCTest
@testable import DevmeshRouting

/// Checks the single-pass, insert-at-rank candidate list against the plain definition of the
/// order (carriers.md §8): collect every key, sort stably by (carrier, key-name position),
/// drop repeats, keep eight. Thousands of random header sets, each with out-of-order carriers,
/// repeated keys and invalid values, from a fixed seed so a failure replays.
final class CandidateOrderingPropertyTests: XCTestCase {
    private static let keyNames = CarrierSpec.defaultKeyNames
    private static let customHeaders = ["x-a", "x-b"]
    /// Twelve keys: enough to overflow the cap of eight and to repeat often.
    private static let keyPool = (0..<12).map { "k\($0)" }

    private struct Item {
        var carrier: RoutingKeyCarrier
        var position: Int
        var key: String?  // nil = invalid value, contributes nothing
    }

    private struct Line {
        var name: String
        var value: String
        /// What the line carries, as the definition sees it.
        var items: [Item]
    }

    func testIncrementalOrderingEqualsSortThenDeduplicateThenCap() {
        var random = SplitMix64(seed: 0x5EED_0F_DE_F1_0E)
        let extractor = RoutingKeyExtractor(CarrierSpec(customHeaders: Self.customHeaders))
        let candidates = RoutingKeyCandidates()
        for iteration in 0..<3000 {
            let lines = (0..<Int.random(in: 1...12, using: &random)).map { _ in Self.randomLine(&random) }
            HeaderFixture.withFields(lines.map { ($0.name, $0.value) }) {
                extractor.extract(from: $0, into: candidates)
            }
            let expected = Self.definition(lines)
            XCTAssertEqual(candidates.found, expected,
                           "iteration \(iteration): \(lines.map { "\($0.name): \($0.value)" })")
            if candidates.found != expected { return }
        }
    }

    /// The order as carriers.md §8 states it, computed the slow, obvious way.
    private static func definition(_ lines: [Line]) -> [Found] {
        var seenCustom = Set<String>()
        var all: [(rank: Int, sequence: Int, found: Found)] = []
        for line in lines {
            if line.items.first?.carrier == .customHeader {
                guard seenCustom.insert(line.name).inserted else { continue }
            }
            for item in line.items {
                guard let key = item.key else { continue }
                all.append((Int(item.carrier.rawValue) * 1000 + item.position, all.count,
                            Found(key: key, carrier: item.carrier)))
            }
        }
        all.sort { ($0.rank, $0.sequence) < ($1.rank, $1.sequence) }
        var keys = Set<String>()
        return Array(all.filter { keys.insert($0.found.key).inserted }.prefix(8).map(\.found))
    }

    private static func randomValue(_ random: inout SplitMix64) -> String? {
        Int.random(in: 0..<8, using: &random) == 0 ? nil : keyPool.randomElement(using: &random)!
    }

    private static func randomLine(_ random: inout SplitMix64) -> Line {
        func member(_ carrier: RoutingKeyCarrier, _ random: inout SplitMix64) -> (text: String, item: Item?) {
            let key = randomValue(&random)
            let value = key ?? "bad/value"
            // One in five members uses a name we do not search.
            if Int.random(in: 0..<5, using: &random) == 0 { return ("other=\(value)", nil) }
            let position = Int.random(in: 0..<keyNames.count, using: &random)
            return ("\(keyNames[position])=\(value)", Item(carrier: carrier, position: position, key: key))
        }
        func list(_ carrier: RoutingKeyCarrier, _ random: inout SplitMix64) -> (String, [Item]) {
            let members = (0..<Int.random(in: 1...4, using: &random)).map { _ in member(carrier, &random) }
            return (members.map(\.text).joined(separator: ","), members.compactMap(\.item))
        }
        let carrier = RoutingKeyCarrier.allCases.randomElement(using: &random)!
        switch carrier {
        case .customHeader:
            let position = Int.random(in: 0..<customHeaders.count, using: &random)
            let key = randomValue(&random)
            return Line(name: customHeaders[position], value: key ?? "bad value",
                        items: [Item(carrier: .customHeader, position: position, key: key)])
        case .baggage, .tracestate, .jaegerBaggage:
            let (value, items) = list(carrier, &random)
            let name = carrier == .baggage ? "baggage" : carrier == .tracestate ? "tracestate" : "jaeger-baggage"
            return Line(name: name, value: value, items: items)
        case .uberctx, .otBaggage, .braveBaggage:
            let prefix = carrier == .uberctx ? "uberctx-" : carrier == .otBaggage ? "ot-baggage-" : "baggage-"
            let position = Int.random(in: 0..<keyNames.count, using: &random)
            let key = randomValue(&random)
            return Line(name: prefix + keyNames[position], value: key ?? "bad%zz",
                        items: [Item(carrier: carrier, position: position, key: key)])
        }
    }
}

/// A small deterministic generator (SplitMix64) so random tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
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

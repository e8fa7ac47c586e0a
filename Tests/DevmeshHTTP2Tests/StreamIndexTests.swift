@testable import DevmeshHTTP2
import XCTest

/// The id -> slot table against a Dictionary, under the access pattern of a connection (a
/// sliding window of increasing odd ids, closed out of order) and under colliding ids.
final class StreamIndexTests: XCTestCase {
    func testMatchesADictionary() {
        // (expected size, window of live streams, id stride: 2 = one side's ids, 32 = all collide)
        for (expected, window, stride) in [(100, 100, 2), (4, 40, 2), (16, 12, 32), (100, 150, 2)] {
            var index = StreamIndex(expected: expected)
            defer { index.deallocate() }
            var reference: [Int32: Int] = [:]
            var generator = SystemRandomNumberGenerator.seeded(UInt64(expected * window + stride))
            var nextID: Int32 = 1
            var lastRemoved: Int32?
            for step in 0..<20_000 {
                if reference.count < window && (reference.isEmpty || generator.next() % 3 != 0) {
                    index.insert(nextID, slot: step)
                    reference[nextID] = step
                    nextID += Int32(stride)
                } else if let victim = reference.keys.randomElement(using: &generator) {
                    index.remove(victim)
                    reference[victim] = nil
                    lastRemoved = victim
                }
                if step % 97 == 0 {
                    XCTAssertEqual(index.count, reference.count)
                    for (id, slot) in reference { XCTAssertEqual(index.find(id), slot, "id \(id)") }
                    XCTAssertNil(index.find(nextID))
                    if let lastRemoved { XCTAssertNil(index.find(lastRemoved)) }
                }
            }
            var seen = 0
            index.forEach { _ in seen += 1 }
            XCTAssertEqual(seen, reference.count)
        }
    }
}

/// A small deterministic generator (xorshift), so failures replay.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

extension SystemRandomNumberGenerator {
    static func seeded(_ seed: UInt64) -> SeededGenerator { SeededGenerator(state: seed | 1) }
}

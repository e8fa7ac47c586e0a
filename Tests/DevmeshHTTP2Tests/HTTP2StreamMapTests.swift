@testable import DevmeshHTTP2
import XCTest

/// The id -> value table against a Dictionary, under the access pattern of a connection (a
/// sliding window of increasing odd ids, closed out of order) and under colliding ids.
final class HTTP2StreamMapTests: XCTestCase {
    func testMatchesADictionary() {
        // (expected size, window of live streams, id stride: 2 = one side's ids, 32 = all collide)
        for (expected, window, stride) in [(100, 100, 2), (4, 40, 2), (16, 12, 32), (100, 150, 2)] {
            var index = HTTP2StreamMap<Int>(expected: expected)
            defer { index.deallocate() }
            var reference: [Int32: Int] = [:]
            var generator = SystemRandomNumberGenerator.seeded(UInt64(expected * window + stride))
            var nextID: Int32 = 1
            var lastRemoved: Int32?
            for step in 0..<20_000 {
                if reference.count < window && (reference.isEmpty || generator.next() % 3 != 0) {
                    index.insert(nextID, step)
                    reference[nextID] = step
                    nextID += Int32(stride)
                } else if let victim = reference.keys.randomElement(using: &generator) {
                    XCTAssertEqual(index.removeValue(for: victim), reference[victim])
                    reference[victim] = nil
                    lastRemoved = victim
                }
                if step % 97 == 0 {
                    XCTAssertEqual(index.count, reference.count)
                    for (id, slot) in reference { XCTAssertEqual(index[id], slot, "id \(id)") }
                    XCTAssertNil(index[nextID])
                    if let lastRemoved { XCTAssertNil(index[lastRemoved]) }
                }
            }
            var seen = 0
            index.forEach { id, value in
                seen += 1
                XCTAssertEqual(reference[id], value)
            }
            XCTAssertEqual(seen, reference.count)
        }
    }
}

extension HTTP2StreamMapTests {
    /// Class values (the proxy's exchanges) are retained while in the table and released by
    /// every way out of it: removal, `removeAll` once the caller drops the array, `deallocate`.
    func testClassValuesAreHeldUntilTheyLeave() {
        final class Box {}
        var map = HTTP2StreamMap<Box>(expected: 2)
        weak var removed: Box?
        weak var cleared: Box?
        weak var leftInTable: Box?
        do {
            let boxes = (0..<40).map { _ in Box() }
            for (index, box) in boxes.enumerated() { map.insert(Int32(2 * index + 1), box) }
            removed = boxes[0]
            cleared = boxes[1]
        }
        XCTAssertNotNil(removed)
        XCTAssertEqual(map.count, 40, "grew past its first capacity")
        _ = map.removeValue(for: 1)
        XCTAssertNil(removed)
        XCTAssertNil(map[1])
        do {
            let all = map.removeAll()
            XCTAssertEqual(all.count, 39)
            XCTAssertTrue(map.isEmpty)
            XCTAssertNil(map[3])
        }
        XCTAssertNil(cleared)
        do {
            let box = Box()
            leftInTable = box
            map.insert(7, box)
        }
        XCTAssertNotNil(leftInTable)
        map.deallocate()
        XCTAssertNil(leftInTable)
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

@testable import DevmeshHTTP2
import XCTest

/// The slot table's raw storage: slots keep their state while the table grows past its first
/// capacity, released slots come back fresh, and ids find their slots throughout.
final class StreamTableTests: XCTestCase {
    func testSlotsSurviveGrowthAndComeBackFresh() {
        // (expected streams, streams opened before the releases)
        for (expected, opened) in [(1, 3), (4, 4), (4, 37), (100, 250)] {
            var table = StreamTable(expectedStreams: expected)
            defer { table.deallocate() }
            var slotOf: [Int32: Int] = [:]
            for index in 0..<opened {
                let id = Int32(2 * index + 1)
                let slot = table.allocate(id: id)
                table[slot].unconsumedBytes = Int(id) * 10
                table[slot].headReceived = true
                slotOf[id] = slot
            }
            XCTAssertEqual(table.count, opened)
            XCTAssertEqual(Set(slotOf.values).count, opened, "distinct slots")
            for (id, slot) in slotOf {
                XCTAssertEqual(table.slot(of: id), slot)
                XCTAssertEqual(table[slot].id, id)
                XCTAssertEqual(table[slot].unconsumedBytes, Int(id) * 10, "state kept across growth")
            }
            // Release every other stream; their slots are reused, reset, for new ids.
            let released = slotOf.keys.sorted().enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            for id in released { table.release(slotOf.removeValue(forKey: id)!) }
            XCTAssertEqual(table.count, opened - released.count)
            for id in released { XCTAssertNil(table.slot(of: id)) }
            var reused: Set<Int> = []
            for index in 0..<released.count {
                let slot = table.allocate(id: Int32(10_001 + 2 * index))
                XCTAssertEqual(table[slot].unconsumedBytes, 0, "a reused slot starts fresh")
                XCTAssertFalse(table[slot].headReceived)
                reused.insert(slot)
            }
            XCTAssertTrue(reused.isDisjoint(with: slotOf.values), "no slot handed out twice")
            var seen = 0
            table.forEachInUse { _ in seen += 1 }
            XCTAssertEqual(seen, opened)
        }
    }
}

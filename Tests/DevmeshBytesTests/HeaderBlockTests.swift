import DevmeshBytes
import XCTest

final class HeaderBlockTests: XCTestCase {
    private func text(_ view: UnsafeRawBufferPointer) -> String { String(decoding: view, as: UTF8.self) }

    func testViewsSurviveGrowthOfArenaAndSlots() {
        let block = HeaderBlock(byteCapacity: 64, fieldCapacity: 4)
        var expected: [(String, String)] = []
        for index in 0..<200 {
            let name = "x-field-\(index)"
            let value = String(repeating: "v", count: index % 37)
            expected.append((name, value))
            Array(name.utf8).withUnsafeBytes { n in Array(value.utf8).withUnsafeBytes { v in block.append(name: n, value: v) } }
        }
        XCTAssertEqual(block.count, 200)
        XCTAssertEqual(block.fields.map { text($0.name) }, expected.map(\.0))
        XCTAssertEqual(block.fields.map { text($0.value) }, expected.map(\.1))
        XCTAssertEqual(block.byteSize, expected.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count })
    }

    func testRemoveAllKeepsCapacityAndEmpties() {
        let block = HeaderBlock()
        block.append(name: "a", value: "b")
        block.removeAll()
        XCTAssertTrue(block.isEmpty)
        block.append(name: "c", value: "d")
        XCTAssertEqual(block.fields.map { text($0.name) + "=" + text($0.value) }, ["c=d"])
    }

    func testLowercasingCopiesNameOnly() {
        let block = HeaderBlock()
        let name: [UInt8] = Array("X-Sandbox-Key".utf8)
        let value: [UInt8] = Array("MiXeD".utf8)
        name.withUnsafeBytes { n in value.withUnsafeBytes { v in block.appendLowercasingName(name: n, value: v) } }
        XCTAssertEqual(text(block.fields[0].name), "x-sandbox-key")
        XCTAssertEqual(text(block.fields[0].value), "MiXeD")
        XCTAssertEqual(String(decoding: name, as: UTF8.self), "X-Sandbox-Key", "the source is untouched")
    }
}

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

    func testAppendContentsOfCopiesEveryFieldAcrossOneGrowth() {
        // (arena bytes, field slots, fields appended at once): fits, arena grows, slots grow, both.
        for (byteCapacity, fieldCapacity, count) in [(1024, 16, 8), (64, 16, 8), (1024, 4, 9), (64, 4, 40)] {
            let source = (0..<count).map { ("x-name-\($0)", String(repeating: "v", count: $0 % 11)) }
            // The source fields point into one buffer of their own, like a decoded header block.
            let bytes = source.flatMap { Array($0.0.utf8) + Array($0.1.utf8) }
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
            defer { arena.deallocate() }
            arena.copyBytes(from: bytes)
            var views: [HeaderField] = []
            var offset = 0
            for (name, value) in source {
                let nameCount = name.utf8.count, valueCount = value.utf8.count
                views.append(HeaderField(name: UnsafeRawBufferPointer(rebasing: arena[offset..<offset + nameCount]),
                                         value: UnsafeRawBufferPointer(rebasing: arena[offset + nameCount..<offset + nameCount + valueCount])))
                offset += nameCount + valueCount
            }
            let block = HeaderBlock(byteCapacity: byteCapacity, fieldCapacity: fieldCapacity)
            block.append(name: "first", value: "1")
            views.withUnsafeBufferPointer { block.append(contentsOf: $0) }
            XCTAssertEqual(block.count, count + 1)
            XCTAssertEqual(block.fields.map { text($0.name) }, ["first"] + source.map(\.0))
            XCTAssertEqual(block.fields.map { text($0.value) }, ["1"] + source.map(\.1))
        }
    }
}

final class ASCIIComparisonTests: XCTestCase {
    /// Every length class of the word-wise comparison (byte loop, 4-7, 8-16, longer), matching
    /// and differing at the first, a middle and the last byte.
    func testEqualsExactlyAgainstAByteComparison() {
        let literals: [StaticString] = ["", "a", "te", "via", "host", ":path", ":method", ":authority",
                                        "content-type", "content-length", "grpc-accept-encoding", "x-sixteen-bytes!"]
        for literal in literals {
            let expected = Array(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
            var candidates: [[UInt8]] = [expected, expected + [0x61], Array(expected.dropLast())]
            for position in Set([0, expected.count / 2, expected.count - 1]) where !expected.isEmpty {
                var changed = expected
                changed[position] ^= 0x20 // the same letter in the other case: must not match
                candidates.append(changed)
            }
            for candidate in candidates {
                let matches = candidate.withUnsafeBytes { ASCII.equalsExactly($0, literal) }
                XCTAssertEqual(matches, candidate == expected, "\(literal) vs \(candidate)")
            }
        }
    }
}

final class ShortCopyTests: XCTestCase {
    /// Every length through each of the copy's cases and past them: the bytes arrive, and the
    /// bytes just outside the target are untouched (the overlapping word moves stay in bounds).
    func testCopiesEveryLengthExactlyWithinBounds() {
        for count in 0...40 {
            let source = (0..<count).map { UInt8(truncatingIfNeeded: 0x41 + $0 * 7) }
            var target = [UInt8](repeating: 0xEE, count: count + 16)
            source.withUnsafeBytes { from in
                target.withUnsafeMutableBytes { to in
                    ShortCopy.copy(from: from.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!,
                                   to: to.baseAddress! + 8, count: count)
                }
            }
            XCTAssertEqual(Array(target[8..<8 + count]), source, "length \(count)")
            XCTAssertEqual(Array(target[0..<8]) + Array(target[(8 + count)...]), [UInt8](repeating: 0xEE, count: 16),
                           "nothing written outside, length \(count)")
        }
    }
}

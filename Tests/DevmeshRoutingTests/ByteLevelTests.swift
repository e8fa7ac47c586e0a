import XCTest
@testable import DevmeshRouting

/// The byte helpers under the hot path: comparison (word fast path vs memcmp), member
/// scanning and hashing.
final class ByteLevelTests: XCTestCase {
    func testEqualityAtEveryLengthAndDifferingPosition() {
        for length in 0...40 {
            let base = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            base.withUnsafeBytes { lhs in
                XCTAssertTrue(ByteCompare.equal(lhs, lhs), "length \(length) self")
                let copy = base
                copy.withUnsafeBytes { XCTAssertTrue(ByteCompare.equal(lhs, $0), "length \(length) copy") }
                for position in 0..<length {
                    var changed = base
                    changed[position] ^= 0x20
                    changed.withUnsafeBytes {
                        XCTAssertFalse(ByteCompare.equal(lhs, $0), "length \(length), byte \(position) differs")
                    }
                }
                (base + [0]).withUnsafeBytes { XCTAssertFalse(ByteCompare.equal(lhs, $0), "length \(length) vs longer") }
            }
        }
    }

    func testMemberCursorFindsSeparatorsInOnePass() {
        let rows: [(line: String, members: [String], equals: [Int?], semicolons: [Int?])] = [
            ("", [""], [nil], [nil]),
            ("a=b", ["a=b"], [1], [nil]),
            ("a=b;c=d,e", ["a=b;c=d", "e"], [1, nil], [3, nil]),
            ("k;p=1", ["k;p=1"], [nil], [1]),
            ("a==b,,", ["a==b", "", ""], [1, nil, nil], [nil, nil, nil]),
            (" x = y ; z ", [" x = y ; z "], [3], [7]),
        ]
        for row in rows {
            var bytes = Array(row.line.utf8)
            bytes.withUnsafeMutableBytes { raw in
                var cursor = MemberCursor(UnsafeRawBufferPointer(raw))
                var members: [String] = [], equals: [Int?] = [], semicolons: [Int?] = []
                while let member = cursor.next() {
                    members.append(String(decoding: member.bytes, as: UTF8.self))
                    equals.append(member.equals)
                    semicolons.append(member.semicolon)
                }
                XCTAssertEqual(members, row.members, row.line)
                XCTAssertEqual(equals, row.equals, row.line)
                XCTAssertEqual(semicolons, row.semicolons, row.line)
            }
        }
    }

    func testCaseInsensitiveHashIgnoresOnlyASCIICase() {
        func hash(_ text: String) -> UInt64 { Array(text.utf8).withUnsafeBytes { ByteHash.asciiCaseInsensitive($0) } }
        XCTAssertEqual(hash("Web.Example.COM"), hash("web.example.com"))
        XCTAssertNotEqual(hash("web.example.com"), hash("web.example.con"))
        XCTAssertNotEqual(hash("a@"), hash("a`"), "0x40 and 0x60 are not letters")
    }

    func testExactHashDependsOnSeedAndEveryByte() {
        let key = Array("4835rlwxwbwyl-tail".utf8)
        let reference = key.withUnsafeBytes { ByteHash.exact($0, seed: 0) }
        XCTAssertNotEqual(key.withUnsafeBytes { ByteHash.exact($0, seed: 1) }, reference)
        for position in key.indices {
            var changed = key
            changed[position] ^= 1
            XCTAssertNotEqual(changed.withUnsafeBytes { ByteHash.exact($0, seed: 0) }, reference, "byte \(position)")
        }
        XCTAssertNotEqual(Array("ab".utf8).withUnsafeBytes { ByteHash.exact($0, seed: 0) },
                          Array("ab\0".utf8).withUnsafeBytes { ByteHash.exact($0, seed: 0) }, "length is hashed")
    }
}

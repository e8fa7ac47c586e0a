import DevmeshHTTP2
import XCTest

/// The character rules (`FieldSyntax`) against nghttp2's, for every byte value in every kind of
/// field, and for a bad byte at every offset of strings of 1 to 20 bytes (the word-at-a-time
/// checks have a different path for 1-3, 4-7 and 8+ bytes, and a last word that overlaps).
final class FieldSyntaxTests: XCTestCase {
    private static let base = [RawField(":method", "GET"), RawField(":scheme", "http"),
                               RawField(":authority", "svc.local"), RawField(":path", "/")]

    /// A request with one field replaced or added; stream 1 must fare the same either way.
    private func assertSameAsLibrary(_ fields: [RawField], _ label: String, file: StaticString = #filePath,
                                     line: UInt = #line) -> Bool {
        let bytes = RawFrame.headers(stream: 1, fields, endStream: true)
        let ours = observe(.server, bytes, library: false)
        XCTAssertEqual(ours, observe(.server, bytes, library: true), label, file: file, line: line)
        return ours.resets[1] == nil
    }

    private func replacing(_ name: String, with value: [UInt8]) -> [RawField] {
        Self.base.filter { $0.name != Array(name.utf8) } + [RawField(Array(name.utf8), value)]
    }

    func testEveryByteInEveryKindOfField() {
        var accepted: [String: Int] = [:]
        for byte in UInt8.min...UInt8.max {
            let contexts: [(String, [RawField])] = [
                ("name", Self.base + [RawField([0x78, byte, 0x79], Array("v".utf8))]),
                ("value", Self.base + [RawField(Array("x-v".utf8), [0x61, byte, 0x7A])]),
                ("value start", Self.base + [RawField(Array("x-v".utf8), [byte, 0x61])]),
                ("value end", Self.base + [RawField(Array("x-v".utf8), [0x61, byte])]),
                (":method", replacing(":method", with: [0x47, byte, 0x54])),
                (":path", replacing(":path", with: [0x2F, byte, 0x61])),
                (":authority", replacing(":authority", with: [0x61, byte, 0x62])),
                (":scheme", replacing(":scheme", with: [0x68, byte])),
                (":scheme start", replacing(":scheme", with: [byte, 0x68])),
                ("host", Self.base + [RawField(Array("host".utf8), [0x61, byte])]),
            ]
            for (label, fields) in contexts where assertSameAsLibrary(fields, "\(label) byte \(byte)") {
                accepted[label, default: 0] += 1
            }
        }
        // What each rule lets through, as counted above (a sanity check on the sweep itself).
        XCTAssertEqual(accepted["name"], 51, "lower-case tchar")
        XCTAssertEqual(accepted["value"], 224, "HTAB, SP, VCHAR, obs-text")
        XCTAssertEqual(accepted["value start"], 222, "no leading SP or HTAB")
        XCTAssertEqual(accepted[":method"], 77, "tchar")
        XCTAssertEqual(accepted[":authority"], 82, "RFC 3986 authority characters")
    }

    func testABadByteAtEveryOffset() {
        for length in 1...20 {
            for offset in 0..<length {
                func with(_ bad: UInt8, fill: UInt8) -> [UInt8] {
                    var bytes = [UInt8](repeating: fill, count: length)
                    bytes[offset] = bad
                    return bytes
                }
                let label = "length \(length) offset \(offset)"
                for bad: UInt8 in [0x00, 0x0A, 0x7F, 0x41, 0x20, 0x80, 0x5F] {
                    _ = assertSameAsLibrary(Self.base + [RawField(with(bad, fill: 0x61), Array("v".utf8))],
                                            "name \(bad) \(label)")
                }
                for bad: UInt8 in [0x00, 0x0D, 0x1F, 0x7F, 0x09, 0xFF] {
                    _ = assertSameAsLibrary(Self.base + [RawField(Array("x-v".utf8), with(bad, fill: 0x61))],
                                            "value \(bad) \(label)")
                    _ = assertSameAsLibrary(replacing(":path", with: [0x2F] + with(bad, fill: 0x61)),
                                            ":path \(bad) \(label)")
                }
                for bad: UInt8 in [0x2F, 0x20, 0x40, 0x5B, 0x80] {
                    _ = assertSameAsLibrary(replacing(":authority", with: with(bad, fill: 0x61)),
                                            ":authority \(bad) \(label)")
                }
                _ = assertSameAsLibrary(replacing(":method", with: with(0x2F, fill: 0x41)), ":method / \(label)")
            }
        }
    }
}

import XCTest
@testable import DevmeshConfig

/// The scalar grammars on their own, where the YAML tests would need one document per case.
final class SyntaxTests: XCTestCase {
    func testIPv4Literals() {
        let cases: [(String, Bool)] = [
            ("0.0.0.0", true), ("127.0.0.1", true), ("255.255.255.255", true), ("10.0.0.256", false),
            ("1.2.3", false), ("1.2.3.4.5", false), ("01.2.3.4", false), ("1.2.3.", false), ("", false),
            ("a.b.c.d", false), ("1.2.3.-4", false), ("1234.1.1.1", false),
        ]
        for (text, valid) in cases {
            XCTAssertEqual(IPLiteral.isIPv4(text), valid, text)
        }
    }

    func testIPv6Literals() {
        let cases: [(String, Bool)] = [
            ("::", true), ("::1", true), ("1::", true), ("fe80::1", true), ("2001:db8:0:0:0:0:2:1", true),
            ("2001:DB8::8:800:200C:417A", true), ("::ffff:192.0.2.1", true), ("1:2:3:4:5:6:7::", true),
            ("1:2:3:4:5:6:7:8", true),
            ("1:2:3:4:5:6:7:8:9", false), ("1:2:3:4:5:6:7", false), ("1::2::3", false), (":::", false),
            ("12345::", false), ("::g", false), (":1", false), ("1:", false), ("fe80::1%eth0", false),
            ("::ffff:192.0.2.256", false), ("::1.2.3.4:5", false), ("1:2:3:4:5:6:7:1.2.3.4", false), ("", false),
        ]
        for (text, valid) in cases {
            XCTAssertEqual(IPLiteral.isIPv6(text), valid, text)
        }
    }

    func testHostNames() {
        let cases: [(String, Bool)] = [
            ("web", true), ("web.local", true), ("a-b.c-d.example", true), ("example.com.", true),
            ("x1", true), (String(repeating: "a", count: 63), true),
            (String(repeating: "a", count: 64), false), ("-web", false), ("web-", false), ("we_b", false),
            ("a..b", false), (".a", false), ("", false), ("wéb", false),
        ]
        for (text, valid) in cases {
            XCTAssertEqual(HostName.isValid(text), valid, text)
        }
    }

    func testDurations() {
        let valid: [(String, Int64)] = [("1ms", 1), ("250ms", 250), ("15s", 15_000), ("2m", 120_000),
                                        ("1h", 3_600_000), ("0s", 0), ("10 s", 10_000)]
        for (text, expected) in valid {
            XCTAssertEqual(try QuantitySyntax.duration(text), Milliseconds(expected), text)
        }
        for text in ["15", "s", "", "1.5s", "10sec", "-1s", "1d", "9999999999999s"] {
            XCTAssertThrowsError(try QuantitySyntax.duration(text), text)
        }
    }

    func testSizes() {
        let valid: [(String, Int)] = [("0", 0), ("4096", 4_096), ("512B", 512), ("64KiB", 65_536),
                                      ("64 KiB", 65_536), ("1MiB", 1_048_576)]
        for (text, expected) in valid {
            XCTAssertEqual(try QuantitySyntax.size(text), expected, text)
        }
        for text in ["", "KiB", "64KB", "64kib", "1GiB", "64k", "-1", "1.5KiB"] {
            XCTAssertThrowsError(try QuantitySyntax.size(text), text)
        }
    }

    func testDescriptionsUseTheLargestExactUnit() {
        let cases: [(Int64, String)] = [(0, "0ms"), (250, "250ms"), (1_500, "1500ms"), (15_000, "15s"),
                                        (120_000, "2m"), (90_000, "90s"), (7_200_000, "2h")]
        for (value, text) in cases {
            XCTAssertEqual(Milliseconds(value).description, text)
        }
        XCTAssertEqual(ListenAddress(host: "::1", port: 80).description, "[::1]:80")
        XCTAssertEqual(ListenAddress(host: "127.0.0.1", port: 0).description, "127.0.0.1:0")
        XCTAssertEqual(Quantity.count(1_000_000), "1,000,000")
        XCTAssertEqual(Quantity.count(999), "999")
        XCTAssertEqual(Quantity.bytes(65_536), "64 KiB")
    }

    func testSpellingSuggestions() {
        let keys = Schema.limits.keys
        XCTAssertEqual(Spelling.closest(to: "max_head_bytez", among: keys), "max_head_bytes")
        XCTAssertEqual(Spelling.closest(to: "MAX_HEADER_COUNT", among: keys), "max_header_count")
        XCTAssertEqual(Spelling.closest(to: "listeners", among: Schema.topLevel.keys), "listen")
        XCTAssertNil(Spelling.closest(to: "color", among: keys))
        XCTAssertEqual(Spelling.editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(Spelling.editDistance("", "abc"), 3)
    }
}

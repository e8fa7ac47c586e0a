import XCTest
@testable import DevmeshRouting

/// Extraction rules beyond the note's vectors: precedence, configuration, limits, decoding and
/// header-name folding. Each table row is (header lines, configuration) -> expected candidates.
final class ExtractionRuleTests: XCTestCase {
    private struct Row {
        var label: String
        var lines: [(name: String, value: String)]
        var carriers = CarrierSpec()
        var expected: [Found]
    }

    private func check(_ rows: [Row], file: StaticString = #filePath, line: UInt = #line) {
        for row in rows {
            XCTAssertEqual(extract(row.lines, carriers: row.carriers), row.expected, row.label,
                           file: file, line: line)
        }
    }

    func testPrecedenceAcrossAllCarriersIgnoresArrivalOrder() {
        // Lines arrive in reverse precedence; the list comes out in carriers.md §8 order.
        let lines: [(name: String, value: String)] = [
            ("jaeger-baggage", "sd-routing-key=k7"),
            ("baggage-sd-routing-key", "k6"),
            ("ot-baggage-sd-routing-key", "k5"),
            ("uberctx-sd-routing-key", "k4"),
            ("tracestate", "sd-routing-key=k3"),
            ("baggage", "sd-routing-key=k2"),
            ("x-sandbox", "k1"),
        ]
        check([
            Row(label: "reverse order", lines: lines, carriers: CarrierSpec(customHeaders: ["x-sandbox"]),
                expected: [.custom("k1"), .baggage("k2"), .tracestate("k3"), .uberctx("k4"),
                           .otBaggage("k5"), .brave("k6"), .jaeger("k7")]),
            Row(label: "same key in every carrier is listed once, under the best carrier",
                lines: lines.map { ($0.name, $0.value.replacingOccurrences(of: #"k\d"#, with: "rk",
                                                                          options: .regularExpression)) },
                expected: [.baggage("rk")]),
            Row(label: "carrier outranks key name: tracestate sd-routing-key after baggage sd-workspace",
                lines: [("tracestate", "sd-routing-key=t"), ("baggage", "sd-workspace=w")],
                expected: [.baggage("w"), .tracestate("t")]),
        ])
    }

    func testKeyNamesRankInConfiguredOrderWithinACarrier() {
        check([
            Row(label: "default names reversed on the wire",
                lines: [("baggage", "sd-workspace=w,sd-sandbox=s,sd-routing-key=r")],
                expected: [.baggage("r"), .baggage("s"), .baggage("w")]),
            Row(label: "across uberctx lines",
                lines: [("uberctx-sd-sandbox", "s"), ("uberctx-sd-routing-key", "r")],
                expected: [.uberctx("r"), .uberctx("s")]),
            Row(label: "duplicates of one name keep arrival order, between names rank wins",
                lines: [("baggage", "sd-sandbox=s1,sd-routing-key=r1"), ("baggage", "sd-sandbox=s2,sd-routing-key=r2")],
                expected: [.baggage("r1"), .baggage("r2"), .baggage("s1"), .baggage("s2")]),
        ])
    }

    func testConfigurableKeyNames() {
        let tenant = CarrierSpec(keyNames: ["tenant-route", "Team"])
        check([
            Row(label: "default names are not searched when replaced",
                lines: [("baggage", "sd-routing-key=a,tenant-route=b")], carriers: tenant, expected: [.baggage("b")]),
            Row(label: "order follows configuration",
                lines: [("baggage", "Team=t,tenant-route=r")], carriers: tenant,
                expected: [.baggage("r"), .baggage("t")]),
            Row(label: "baggage keys stay case-sensitive", lines: [("baggage", "team=t")], carriers: tenant,
                expected: []),
            Row(label: "prefixed carriers fold the name", lines: [("uberctx-TEAM", "t"), ("ot-baggage-team", "u")],
                carriers: tenant, expected: [.uberctx("t"), .otBaggage("u")]),
            Row(label: "tracestate and jaeger use the configured names",
                lines: [("tracestate", "tenant-route=x"), ("jaeger-baggage", "Team=y")], carriers: tenant,
                expected: [.tracestate("x"), .jaeger("y")]),
            Row(label: "no key names: only custom headers",
                lines: [("baggage", "sd-routing-key=a"), ("x-route", "b")],
                carriers: CarrierSpec(keyNames: [], customHeaders: ["x-route"]), expected: [.custom("b")]),
        ])
    }

    func testCustomHeaders() {
        let two = CarrierSpec(customHeaders: ["x-sandbox", "x-route"])
        check([
            Row(label: "configured order, not arrival order",
                lines: [("x-route", "b"), ("x-sandbox", "a")], carriers: two,
                expected: [.custom("a"), .custom("b")]),
            Row(label: "first line wins", lines: [("x-sandbox", "a"), ("x-sandbox", "b")], carriers: two,
                expected: [.custom("a")]),
            Row(label: "first line wins even when it holds no key",
                lines: [("x-sandbox", "not a key"), ("x-sandbox", "b")], carriers: two, expected: []),
            Row(label: "whole value, no list syntax", lines: [("x-sandbox", "a,b")], carriers: two, expected: []),
            Row(label: "no percent-decoding", lines: [("x-sandbox", "a%62")], carriers: two, expected: []),
            Row(label: "name folds on HTTP/1.1", lines: [("X-SandBox", " \t a \t")], carriers: two,
                expected: [.custom("a")]),
            Row(label: "configured upper-case name matches any case",
                lines: [("x-sandbox", "a")], carriers: CarrierSpec(customHeaders: ["X-SANDBOX"]),
                expected: [.custom("a")]),
            Row(label: "short custom name", lines: [("rk", "a"), ("r", "b")],
                carriers: CarrierSpec(customHeaders: ["rk"]), expected: [.custom("a")]),
            Row(label: "custom outranks baggage", lines: [("baggage", "sd-routing-key=b"), ("x-route", "a")],
                carriers: two, expected: [.custom("a"), .baggage("b")]),
            Row(label: "unconfigured header ignored", lines: [("x-other", "a")], carriers: two, expected: []),
        ])
    }

    func testCandidateListIsCappedAtEight() {
        let ten = (0..<10).map { "sd-routing-key=k\($0)" }.joined(separator: ",")
        check([
            Row(label: "first eight kept", lines: [("baggage", ten)],
                expected: (0..<8).map { .baggage("k\($0)") }),
            Row(label: "a later, higher-precedence key evicts the last",
                lines: [("baggage", ten), ("x-route", "top")], carriers: CarrierSpec(customHeaders: ["x-route"]),
                expected: [.custom("top")] + (0..<7).map { .baggage("k\($0)") }),
            Row(label: "a lower-precedence key cannot enter a full list",
                lines: [("baggage", ten), ("uberctx-sd-routing-key", "low")],
                expected: (0..<8).map { .baggage("k\($0)") }),
            Row(label: "duplicates do not use up the cap",
                lines: [("baggage", (["sd-routing-key=same"] + Array(repeating: "sd-routing-key=same", count: 9)
                                      + ["sd-routing-key=other"]).joined(separator: ","))],
                expected: [.baggage("same"), .baggage("other")]),
        ])
    }

    func testKeyLengthLimit() {
        let max = String(repeating: "a", count: 128)
        let over = String(repeating: "a", count: 129)
        check([
            Row(label: "128 bytes", lines: [("baggage", "sd-routing-key=\(max)")], expected: [.baggage(max)]),
            Row(label: "129 bytes", lines: [("baggage", "sd-routing-key=\(over)")], expected: []),
            Row(label: "128 bytes after decoding 384",
                lines: [("baggage", "sd-routing-key=" + String(repeating: "%61", count: 128))], expected: [.baggage(max)]),
            Row(label: "129 bytes after decoding",
                lines: [("baggage", "sd-routing-key=" + String(repeating: "%61", count: 129))], expected: []),
            Row(label: "custom header 129", lines: [("x-route", over)],
                carriers: CarrierSpec(customHeaders: ["x-route"]), expected: []),
            Row(label: "uberctx 128", lines: [("uberctx-sd-routing-key", max)], expected: [.uberctx(max)]),
            Row(label: "too long key skipped, next member kept",
                lines: [("baggage", "sd-routing-key=\(over),sd-routing-key=ok")], expected: [.baggage("ok")]),
        ])
    }

    func testPercentDecoding() {
        func baggage(_ value: String) -> [(name: String, value: String)] { [("baggage", "sd-routing-key=\(value)")] }
        check([
            Row(label: "%2d lower-case hex", lines: baggage("a%2db"), expected: [.baggage("a-b")]),
            Row(label: "%2D upper-case hex", lines: baggage("a%2Db"), expected: [.baggage("a-b")]),
            Row(label: "all escaped", lines: baggage("%61%62"), expected: [.baggage("ab")]),
            Row(label: "lone %", lines: baggage("%"), expected: []),
            Row(label: "trailing %", lines: baggage("ab%"), expected: []),
            Row(label: "one digit at end", lines: baggage("ab%6"), expected: []),
            Row(label: "%G1 not hex", lines: baggage("a%G1"), expected: []),
            Row(label: "%1G not hex", lines: baggage("a%1G"), expected: []),
            Row(label: "%% not hex", lines: baggage("a%%41"), expected: []),
            Row(label: "decodes to '/' outside alphabet", lines: baggage("a%2Fb"), expected: []),
            Row(label: "decodes to space", lines: baggage("a%20b"), expected: []),
            Row(label: "decodes to '%' (no double decoding)", lines: baggage("a%2541"), expected: []),
            Row(label: "decodes to NUL", lines: baggage("a%00"), expected: []),
            Row(label: "decodes to high byte", lines: baggage("a%C3%A9"), expected: []),
            Row(label: "tracestate is not decoded", lines: [("tracestate", "sd-routing-key=a%2db")], expected: []),
            Row(label: "uberctx decoded", lines: [("uberctx-sd-routing-key", "4835rlw%78wbwyl")],
                expected: [.uberctx("4835rlwxwbwyl")]),
            Row(label: "uberctx raw without %", lines: [("uberctx-sd-routing-key", "4835rlwxwbwyl")],
                expected: [.uberctx("4835rlwxwbwyl")]),
            Row(label: "uberctx broken escape", lines: [("uberctx-sd-routing-key", "ab%2")], expected: []),
            Row(label: "uberctx escape outside alphabet", lines: [("uberctx-sd-routing-key", "a%3Ab")], expected: []),
            Row(label: "ot-baggage decoded", lines: [("ot-baggage-sd-routing-key", "a%2Eb")], expected: [.otBaggage("a.b")]),
            Row(label: "brave decoded", lines: [("baggage-sd-routing-key", "a%5fb")], expected: [.brave("a_b")]),
            Row(label: "jaeger decoded", lines: [("jaeger-baggage", "sd-routing-key=a%5Fb")], expected: [.jaeger("a_b")]),
        ])
    }

    func testEmptyAndDegenerateBaggage() {
        check([
            Row(label: "empty value", lines: [("baggage", "")], expected: []),
            Row(label: "whitespace only", lines: [("baggage", " \t ")], expected: []),
            Row(label: "commas only", lines: [("baggage", ",,,")], expected: []),
            Row(label: "key without '='", lines: [("baggage", "sd-routing-key")], expected: []),
            Row(label: "'=' without key", lines: [("baggage", "=rk")], expected: []),
            Row(label: "value made of properties only", lines: [("baggage", "sd-routing-key=;p=1")], expected: []),
            Row(label: "base64 padding in another member", lines: [("baggage", "t=YQ==,sd-routing-key=rk")],
                expected: [.baggage("rk")]),
            Row(label: "second '=' belongs to the value", lines: [("baggage", "sd-routing-key=a=b")], expected: []),
            Row(label: "tab as OWS", lines: [("baggage", "\tsd-routing-key\t=\trk\t;\tp")], expected: [.baggage("rk")]),
            Row(label: "key with a space inside", lines: [("baggage", "sd routing-key=rk")], expected: []),
            Row(label: "a bad member does not hide a later line",
                lines: [("baggage", "sd-routing-key=\"x\""), ("baggage", "sd-routing-key=rk")],
                expected: [.baggage("rk")]),
        ])
    }

    func testBaggageMemberLimitIsOneHundredEighty() {
        func members(_ count: Int, keyAt position: Int) -> String {
            (1...count).map { $0 == position ? "sd-routing-key=rk" : "m\($0)=v" }.joined(separator: ",")
        }
        let hundred = (1...100).map { "m\($0)=v" }.joined(separator: ",")
        check([
            Row(label: "key at member 180", lines: [("baggage", members(200, keyAt: 180))], expected: [.baggage("rk")]),
            Row(label: "key at member 181", lines: [("baggage", members(200, keyAt: 181))], expected: []),
            Row(label: "count spans lines: 100 + 80", lines: [("baggage", hundred), ("baggage", members(100, keyAt: 80))],
                expected: [.baggage("rk")]),
            Row(label: "count spans lines: 100 + 81", lines: [("baggage", hundred), ("baggage", members(100, keyAt: 81))],
                expected: []),
            Row(label: "empty members do not count",
                lines: [("baggage", String(repeating: ",", count: 300) + members(180, keyAt: 180))],
                expected: [.baggage("rk")]),
            Row(label: "other carriers still read past the limit",
                lines: [("baggage", members(200, keyAt: 0)), ("uberctx-sd-routing-key", "u")],
                expected: [.uberctx("u")]),
        ])
    }

    func testTracestateRules() {
        let members = (1...40).map { "v\($0)=x" }
        check([
            Row(label: "no OWS around '=' in tracestate", lines: [("tracestate", "sd-routing-key = rk")], expected: []),
            Row(label: "OWS around members", lines: [("tracestate", " a=b ,\tsd-routing-key=rk\t")],
                expected: [.tracestate("rk")]),
            Row(label: "two lines joined", lines: [("tracestate", "a=b"), ("tracestate", "sd-sandbox=rk")],
                expected: [.tracestate("rk")]),
            Row(label: "member 32 read", lines: [("tracestate", (members.prefix(31) + ["sd-routing-key=rk"]).joined(separator: ","))],
                expected: [.tracestate("rk")]),
            Row(label: "member 33 ignored", lines: [("tracestate", (members.prefix(32) + ["sd-routing-key=rk"]).joined(separator: ","))],
                expected: []),
            Row(label: "traceparent alone carries nothing",
                lines: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")], expected: []),
        ])
    }

    func testHeaderNameFolding() {
        check([
            Row(label: "Baggage", lines: [("Baggage", "sd-routing-key=rk")], expected: [.baggage("rk")]),
            Row(label: "BAGGAGE with lower-case key", lines: [("BAGGAGE", "sd-routing-key=rk")], expected: [.baggage("rk")]),
            Row(label: "Baggage with mixed-case key", lines: [("Baggage", "Sd-Routing-Key=rk")], expected: []),
            Row(label: "values keep their case", lines: [("BAGGAGE", "sd-routing-key=RK")], expected: [.baggage("RK")]),
            Row(label: "TraceState", lines: [("TraceState", "sd-routing-key=rk")], expected: [.tracestate("rk")]),
            Row(label: "UBERCTX-", lines: [("UBERCTX-SD-ROUTING-KEY", "rk")], expected: [.uberctx("rk")]),
            Row(label: "Ot-Baggage-", lines: [("Ot-Baggage-Sd-Sandbox", "rk")], expected: [.otBaggage("rk")]),
            Row(label: "Baggage-", lines: [("Baggage-SD-Workspace", "rk")], expected: [.brave("rk")]),
            Row(label: "Jaeger-Baggage", lines: [("Jaeger-Baggage", "sd-routing-key=rk")], expected: [.jaeger("rk")]),
        ])
    }

    func testExactBaggageHeaderIsNotTheBravePrefix() {
        check([
            Row(label: "Brave field", lines: [("baggage-sd-routing-key", "rk")], expected: [.brave("rk")]),
            Row(label: "W3C list syntax in a Brave field is not a key",
                lines: [("baggage-sd-routing-key", "sd-routing-key=rk")], expected: []),
            Row(label: "bare value in W3C baggage is not a key", lines: [("baggage", "rk")], expected: []),
            Row(label: "empty Brave key name", lines: [("baggage-", "rk")], expected: []),
            Row(label: "unknown Brave field", lines: [("baggage-user-id", "rk")], expected: []),
            Row(label: "prefix alone is no header match", lines: [("baggagex", "sd-routing-key=rk")], expected: []),
            Row(label: "uberctx prefix without name", lines: [("uberctx-", "rk")], expected: []),
            Row(label: "uberctx name with trailing junk", lines: [("uberctx-sd-routing-key-x", "rk")], expected: []),
        ])
    }

    func testUnrelatedHeadersYieldNothing() {
        let common: [(name: String, value: String)] = [
            ("host", "example.com"), ("user-agent", "curl/8.0"), ("accept", "*/*"),
            ("transfer-encoding", "chunked"), ("te", "trailers"), ("origin", "https://a"),
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), ("uber-trace-id", "a:b:c:1"),
            ("ot-tracer-traceid", "abc"), ("jaeger-debug-id", "x"), ("sd-routing-key", "rk"),
            ("x-b3-sampled", "1"), ("", ""), ("b", "sd-routing-key=rk"),
        ]
        check([Row(label: "common headers", lines: common, expected: [])])
    }

    func testCandidateListIsReusedAcrossRequests() {
        let extractor = RoutingKeyExtractor(CarrierSpec())
        let candidates = RoutingKeyCandidates()
        HeaderFixture.withFields([("baggage", "sd-routing-key=a,sd-sandbox=b")]) {
            extractor.extract(from: $0, into: candidates)
        }
        XCTAssertEqual(candidates.found, [.baggage("a"), .baggage("b")])
        HeaderFixture.withFields([("uberctx-sd-routing-key", "c")]) {
            extractor.extract(from: $0, into: candidates)
        }
        XCTAssertEqual(candidates.found, [.uberctx("c")], "extraction starts from an empty list")
        HeaderFixture.withFields([]) { extractor.extract(from: $0, into: candidates) }
        XCTAssertTrue(candidates.isEmpty)
    }

    func testKeyAlphabetMatchesItsDefinition() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".utf8)
        for byte in UInt8.min...UInt8.max {
            XCTAssertEqual(RoutingKeyAlphabet.isKeyByte(byte), allowed.contains(byte), "byte \(byte)")
        }
    }
}

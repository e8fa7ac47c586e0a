import XCTest
@testable import DevmeshRouting

/// Every test vector of notes/carriers.md §9, one row each.
final class CarrierVectorTests: XCTestCase {
    private static let rk = "4835rlwxwbwyl"

    private struct Vector {
        var number: Int
        var lines: [(name: String, value: String)]
        var customHeaders: [String] = []
        var expected: [Found]
    }

    private static var vectors: [Vector] {
        let rk = Self.rk
        let seventyMembers = (1...70).map { $0 == 66 ? "sd-routing-key=\(rk)" : "member\($0)=value\($0)" }
        return [
            Vector(number: 1, lines: [("baggage", "sd-routing-key=\(rk)")], expected: [.baggage(rk)]),
            Vector(number: 2, lines: [("baggage", "userId=alice, sd-routing-key = \(rk) ,isProduction=false")],
                   expected: [.baggage(rk)]),
            Vector(number: 3, lines: [("baggage", "sd-routing-key=\(rk);ttl=60;sampled")], expected: [.baggage(rk)]),
            Vector(number: 4, lines: [("baggage", "sd-routing-key=4835rlw%78wbwyl")], expected: [.baggage(rk)]),
            Vector(number: 5, lines: [("baggage", "sd-routing-key=ab%2")], expected: []),
            Vector(number: 6, lines: [("baggage", "userId=alice"), ("baggage", "sd-routing-key=\(rk)")],
                   expected: [.baggage(rk)]),
            Vector(number: 7, lines: [("baggage", "sd-routing-key=k1,sd-routing-key=k2")],
                   expected: [.baggage("k1"), .baggage("k2")]),
            Vector(number: 8, lines: [("baggage", "foo bar=1,sd-routing-key=\(rk)")], expected: [.baggage(rk)]),
            Vector(number: 9, lines: [("baggage", "sd-routing-key=\"\(rk)\"")], expected: []),
            Vector(number: 10, lines: [("baggage", ",, sd-routing-key=\(rk) ,")], expected: [.baggage(rk)]),
            Vector(number: 11, lines: [("BAGGAGE", "SD-ROUTING-KEY=\(rk)")], expected: []),
            Vector(number: 12, lines: [("baggage", "sd-sandbox=\(rk)")], expected: [.baggage(rk)]),
            Vector(number: 13, lines: [("baggage", "sd-routing-key=\(rk),sd-sandbox=\(rk)")], expected: [.baggage(rk)]),
            // The note lists `a+b` as the result ("`+` is not a space"), but its own §7 alphabet
            // `[A-Za-z0-9._-]` (also in the task brief) excludes `+`, so `a+b` is no key. We follow
            // §7; a `+` or a space would both be rejected, so no decoding of `+` can leak through.
            Vector(number: 14, lines: [("baggage", "sd-routing-key=a+b")], expected: []),
            Vector(number: 15, lines: [("tracestate", "sd-routing-key=\(rk)")], expected: [.tracestate(rk)]),
            Vector(number: 16, lines: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                                       ("tracestate", "rojo=00f067aa0ba902b7, sd-routing-key=\(rk)")],
                   expected: [.tracestate(rk)]),
            Vector(number: 17, lines: [("UberCtx-SD-Routing-Key", rk)], expected: [.uberctx(rk)]),
            Vector(number: 18, lines: [("ot-baggage-sd-routing-key", rk)], expected: [.otBaggage(rk)]),
            Vector(number: 19, lines: [("baggage-sd-routing-key", rk)], expected: [.brave(rk)]),
            Vector(number: 20, lines: [("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
                                       ("x-b3-sampled", "1")], expected: []),
            Vector(number: 21, lines: [("jaeger-baggage", "sd-routing-key=\(rk), foo=bar")], expected: [.jaeger(rk)]),
            Vector(number: 22, lines: [("x-sandbox", "  \(rk)  ")], customHeaders: ["x-sandbox"],
                   expected: [.custom(rk)]),
            Vector(number: 23, lines: [("baggage", "sd-routing-key=k1"), ("uberctx-sd-routing-key", "k2")],
                   expected: [.baggage("k1"), .uberctx("k2")]),
            Vector(number: 24, lines: [("baggage", "sd-routing-key=")], expected: []),
            Vector(number: 25, lines: [("baggage", seventyMembers.joined(separator: ","))], expected: [.baggage(rk)]),
            Vector(number: 26, lines: [("baggage", "sd-routing-key=\(rk)/../x")], expected: []),
        ]
    }

    func testAllVectorsOfCarriersNote() {
        let vectors = Self.vectors
        XCTAssertEqual(vectors.map(\.number), Array(1...26), "one row per vector of carriers.md §9")
        for vector in vectors {
            let found = extract(vector.lines, carriers: CarrierSpec(customHeaders: vector.customHeaders))
            XCTAssertEqual(found, vector.expected, "vector \(vector.number)")
        }
    }
}

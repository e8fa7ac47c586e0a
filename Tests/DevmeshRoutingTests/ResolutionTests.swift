import XCTest
@testable import DevmeshRouting

final class ResolutionTests: XCTestCase {
    private func resolve(_ lines: [(name: String, value: String)], service: Int, in table: RouteTable) -> RouteDecision {
        let candidates = RoutingKeyCandidates()
        return HeaderFixture.withFields(lines) {
            table.extractor.extract(from: $0, into: candidates)
            return table.resolve(service: service, candidates: candidates)
        }
    }

    func testFirstCandidateWithARouteWins() throws {
        let table = try RouteTable.build(RouteTableBuildTests.validSpec, version: 1)
        // web: abc -> 1, def -> 2 (baseline 0); api: abc -> 4 (baseline 3).
        let rows: [(label: String, lines: [(name: String, value: String)], service: Int, expected: RouteDecision)] = [
            ("no key", [], 0, RouteDecision(destination: 0, candidateIndex: -1, isSandbox: false)),
            ("unknown key", [("baggage", "sd-routing-key=zzz")], 0,
             RouteDecision(destination: 0, candidateIndex: -1, isSandbox: false)),
            ("only the second candidate has a route", [("baggage", "sd-routing-key=zzz,sd-sandbox=def")], 0,
             RouteDecision(destination: 2, candidateIndex: 1, isSandbox: true)),
            ("candidate order, not route order", [("baggage", "sd-routing-key=def,sd-sandbox=abc")], 0,
             RouteDecision(destination: 2, candidateIndex: 0, isSandbox: true)),
            ("third candidate from a lower carrier",
             [("uberctx-sd-routing-key", "abc"), ("baggage", "sd-routing-key=x,sd-sandbox=y")], 0,
             RouteDecision(destination: 1, candidateIndex: 2, isSandbox: true)),
            ("same key, other service", [("baggage", "sd-routing-key=abc")], 1,
             RouteDecision(destination: 4, candidateIndex: 0, isSandbox: true)),
            ("key routed only in another service", [("baggage", "sd-routing-key=def")], 1,
             RouteDecision(destination: 3, candidateIndex: -1, isSandbox: false)),
            ("keys are case-sensitive", [("baggage", "sd-routing-key=ABC")], 0,
             RouteDecision(destination: 0, candidateIndex: -1, isSandbox: false)),
            ("a prefix of a key is not the key", [("baggage", "sd-routing-key=ab")], 0,
             RouteDecision(destination: 0, candidateIndex: -1, isSandbox: false)),
        ]
        for row in rows {
            XCTAssertEqual(resolve(row.lines, service: row.service, in: table), row.expected, row.label)
        }
    }

    func testTableWithoutRoutesAlwaysUsesBaseline() throws {
        let spec = RoutingSpec(services: [ServiceSpec(name: "app", baseline: [EndpointSpec(host: "a", port: 1)])])
        let table = try RouteTable.build(spec, version: 1)
        XCTAssertEqual(resolve([("baggage", "sd-routing-key=abc")], service: 0, in: table),
                       RouteDecision(destination: 0, candidateIndex: -1, isSandbox: false))
    }

    func testTenThousandKeysAreAllFoundAndAbsentKeysMissed() throws {
        let count = 10_000
        func key(_ number: Int) -> String { "rk" + String(number * 7919 % 1_000_003, radix: 36) + "-\(number)" }
        let routes = (0..<count).map {
            RouteSpec(routingKey: key($0), endpoints: [EndpointSpec(host: "sandbox-\($0)", port: 8080)])
        }
        // Two services with the same keys: the service index is part of the lookup.
        let spec = RoutingSpec(services: [
            ServiceSpec(name: "a", hosts: ["a"], baseline: [EndpointSpec(host: "a", port: 80)], routes: routes),
            ServiceSpec(name: "b", hosts: ["b"], baseline: [EndpointSpec(host: "b", port: 80)],
                        routes: Array(routes.prefix(10))),
        ])
        let table = try RouteTable.build(spec, version: 1)
        XCTAssertEqual(table.routeCount, count + 10)

        func lookup(_ key: String, service: Int) -> Int? {
            var bytes = Array(key.utf8)
            return bytes.withUnsafeMutableBytes { table.sandboxDestination(service: service, key: UnsafeRawBufferPointer($0)) }
        }
        for number in 0..<count {
            let destination = try XCTUnwrap(lookup(key(number), service: 0), "key \(number)")
            XCTAssertEqual(table.destinations[destination].routingKey, key(number))
            XCTAssertEqual(table.destinations[destination].serviceIndex, 0)
            XCTAssertEqual(table.destinations[destination].endpoints[0].host, "sandbox-\(number)")
        }
        var misses = 0
        for number in count..<(2 * count) where lookup(key(number), service: 0) == nil { misses += 1 }
        XCTAssertEqual(misses, count, "keys never configured")
        XCTAssertNil(lookup(key(5).uppercased(), service: 0))
        XCTAssertNil(lookup(String(key(5).dropLast()), service: 0))
        XCTAssertNil(lookup(key(5) + "x", service: 0))
        XCTAssertEqual(lookup(key(3), service: 1).map { table.destinations[$0].serviceIndex }, 1)
        XCTAssertNil(lookup(key(10), service: 1), "service b has only the first ten keys")
    }
}

import XCTest
@testable import DevmeshRouting

/// Every validation rule of `RouteTable.build`, each checked with its full message, plus the
/// destination list a valid spec compiles to.
final class RouteTableBuildTests: XCTestCase {
    static func endpoint(_ host: String, _ port: UInt16 = 8080) -> EndpointSpec {
        EndpointSpec(host: host, port: port)
    }

    /// A valid gateway spec: `web` by host with two routes, `api` as the default service.
    static var validSpec: RoutingSpec {
        RoutingSpec(services: [
            ServiceSpec(name: "web", hosts: ["web.example.com"], baseline: [endpoint("10.0.0.1")], routes: [
                RouteSpec(routingKey: "abc", sandbox: "feature-x", endpoints: [endpoint("10.0.1.1")]),
                RouteSpec(routingKey: "def", endpoints: [endpoint("10.0.1.2"), endpoint("10.0.1.3")], fallback: .baseline),
            ]),
            ServiceSpec(name: "api", baseline: [endpoint("10.0.0.2", 9090)], routes: [
                RouteSpec(routingKey: "abc", sandbox: "api-x", endpoints: [endpoint("10.0.2.1")]),
            ]),
        ])
    }

    private struct Row {
        var label: String
        var change: (inout RoutingSpec) -> Void
        var message: String
    }

    func testEveryValidationRuleNamesTheProblem() {
        let longKey = String(repeating: "k", count: 129)
        let rows: [Row] = [
            Row(label: "no services", change: { $0.services = [] },
                message: #"no services: at least one service is required"#),
            Row(label: "empty service name", change: { $0.services[1].name = "" },
                message: #"service #2: empty name"#),
            Row(label: "duplicate service name", change: { $0.services[1].name = "web" },
                message: #"duplicate service name "web""#),
            Row(label: "two default services",
                change: { $0.services.append(ServiceSpec(name: "other", baseline: [Self.endpoint("h")])) },
                message: #"services "api" and "other" both have no hosts: at most one default service is allowed"#),
            Row(label: "host with port", change: { $0.services[0].hosts = ["web.example.com:80"] },
                message: #"service "web": invalid host "web.example.com:80": must not include a port"#),
            Row(label: "empty host", change: { $0.services[0].hosts = [""] },
                message: #"service "web": invalid host "": empty"#),
            Row(label: "host with a space", change: { $0.services[0].hosts = ["web example"] },
                message: #"service "web": invalid host "web example": only letters, digits, '.', '-' and '_' are allowed"#),
            Row(label: "host that is only a dot", change: { $0.services[0].hosts = ["."] },
                message: #"service "web": invalid host ".": empty"#),
            Row(label: "bad IPv6 literal", change: { $0.services[0].hosts = ["[fe80::zz]"] },
                message: #"service "web": invalid host "[fe80::zz]": not a valid IPv6 literal"#),
            Row(label: "host too long", change: { $0.services[0].hosts = [String(repeating: "a", count: 254)] },
                message: "service \"web\": invalid host \"\(String(repeating: "a", count: 254))\": longer than 253 bytes"),
            Row(label: "host claimed twice, case folded",
                change: { $0.services[1].hosts = ["WEB.Example.com"] },
                message: #"host "web.example.com" is claimed by services "web" and "api""#),
            Row(label: "host claimed twice within a service, trailing dot",
                change: { $0.services[0].hosts = ["web.example.com", "web.example.com."] },
                message: #"host "web.example.com" is claimed by services "web" and "web""#),
            Row(label: "baseline without endpoints", change: { $0.services[0].baseline = [] },
                message: #"service "web": baseline has no endpoints"#),
            Row(label: "baseline port 0", change: { $0.services[0].baseline = [Self.endpoint("10.0.0.1", 0)] },
                message: #"service "web": baseline endpoint "10.0.0.1:0": port must be 1-65535"#),
            Row(label: "baseline empty host", change: { $0.services[1].baseline = [Self.endpoint("")] },
                message: #"service "api": baseline endpoint ":8080": host is empty"#),
            Row(label: "baseline host with space", change: { $0.services[1].baseline = [Self.endpoint("a b")] },
                message: #"service "api": baseline endpoint "a b:8080": host contains whitespace or a control character"#),
            Row(label: "routing key outside the alphabet", change: { $0.services[0].routes[0].routingKey = "a/b" },
                message: #"service "web": invalid routing key "a/b": must be 1-128 bytes of [A-Za-z0-9._-]"#),
            Row(label: "routing key of 129 bytes", change: { $0.services[0].routes[0].routingKey = longKey },
                message: "service \"web\": invalid routing key \"\(longKey)\": must be 1-128 bytes of [A-Za-z0-9._-]"),
            Row(label: "empty routing key", change: { $0.services[0].routes[0].routingKey = "" },
                message: #"service "web": invalid routing key "": must be 1-128 bytes of [A-Za-z0-9._-]"#),
            Row(label: "duplicate routing key", change: { $0.services[0].routes[1].routingKey = "abc" },
                message: #"service "web": duplicate routing key "abc""#),
            Row(label: "empty sandbox name", change: { $0.services[0].routes[1].sandbox = "" },
                message: #"service "web": route "def": empty sandbox name"#),
            Row(label: "route without endpoints", change: { $0.services[0].routes[0].endpoints = [] },
                message: #"service "web": route "abc": no endpoints"#),
            Row(label: "route port 0",
                change: { $0.services[0].routes[1].endpoints.append(Self.endpoint("10.0.1.9", 0)) },
                message: #"service "web": route "def": endpoint "10.0.1.9:0": port must be 1-65535"#),
            Row(label: "route IPv6 endpoint port 0", change: { $0.services[1].routes[0].endpoints = [Self.endpoint("::1", 0)] },
                message: #"service "api": route "abc": endpoint "[::1]:0": port must be 1-65535"#),
            Row(label: "empty carrier key name", change: { $0.carriers.keyNames = ["sd-routing-key", ""] },
                message: #"carriers: invalid key name "": must be a non-empty token"#),
            Row(label: "carrier key name not a token", change: { $0.carriers.keyNames = ["sd key"] },
                message: #"carriers: invalid key name "sd key": must be a non-empty token"#),
            Row(label: "duplicate carrier key name", change: { $0.carriers.keyNames = ["a", "b", "a"] },
                message: #"carriers: duplicate key name "a""#),
            Row(label: "custom header not a token", change: { $0.carriers.customHeaders = ["x-sandbox:"] },
                message: #"carriers: invalid custom header "x-sandbox:": must be a non-empty token"#),
            Row(label: "empty custom header", change: { $0.carriers.customHeaders = [""] },
                message: #"carriers: invalid custom header "": must be a non-empty token"#),
            Row(label: "duplicate custom header ignoring case",
                change: { $0.carriers.customHeaders = ["x-sandbox", "X-Sandbox"] },
                message: #"carriers: duplicate custom header "X-Sandbox""#),
            Row(label: "too many custom headers",
                change: { $0.carriers.customHeaders = (0..<65).map { "x-h\($0)" } },
                message: #"carriers: 65 custom headers, at most 64 are supported"#),
            Row(label: "names are escaped in messages", change: { $0.services[1].name = "w\"e\nb"; $0.services[0].name = "w\"e\nb" },
                message: #"duplicate service name "w\"e\nb""#),
        ]
        XCTAssertNoThrow(try RouteTable.build(Self.validSpec, version: 1), "the base spec is valid")
        for row in rows {
            var spec = Self.validSpec
            row.change(&spec)
            do {
                _ = try RouteTable.build(spec, version: 1)
                XCTFail("\(row.label): accepted")
            } catch {
                XCTAssertEqual(error.description, row.message, row.label)
            }
        }
    }

    func testAcceptedEdgeCases() throws {
        var spec = Self.validSpec
        spec.services[0].hosts = ["Web.Example.com.", "::1", "[fe80::1]", "10.0.0.5", "under_score.local"]
        spec.services[0].routes[0].routingKey = String(repeating: "k", count: 128)
        spec.carriers = CarrierSpec(keyNames: [], customHeaders: (0..<64).map { "x-h\($0)" })
        let table = try RouteTable.build(spec, version: 1)
        XCTAssertEqual(table.services[0].hosts, ["web.example.com", "[::1]", "[fe80::1]", "10.0.0.5", "under_score.local"])
    }

    func testDestinationsAreDenseAndWired() throws {
        let table = try RouteTable.build(Self.validSpec, version: 42)
        XCTAssertEqual(table.version, 42)
        XCTAssertEqual(table.spec, Self.validSpec)
        XCTAssertEqual(table.destinations.map(\.id), Array(0..<5))
        XCTAssertEqual(table.destinations.map(\.kind), [.baseline, .sandbox, .sandbox, .baseline, .sandbox])
        XCTAssertEqual(table.destinations.map(\.name), ["web", "feature-x", "def", "api", "api-x"])
        XCTAssertEqual(table.destinations.map(\.serviceIndex), [0, 0, 0, 1, 1])
        XCTAssertEqual(table.destinations.map(\.routingKey), [nil, "abc", "def", nil, "abc"])
        XCTAssertEqual(table.destinations.map(\.fallbackDestination), [nil, nil, 0, nil, nil],
                       "only the .baseline route falls back, to its own service's baseline")
        XCTAssertEqual(table.destinations[2].endpoints, [Self.endpoint("10.0.1.2"), Self.endpoint("10.0.1.3")])
        XCTAssertEqual(table.services.map(\.baselineDestination), [0, 3])
        XCTAssertEqual(table.services.map(\.routeDestinations), [1..<3, 4..<5])
        XCTAssertEqual(table.defaultService, 1)
        XCTAssertEqual(table.routeCount, 3)
        XCTAssertEqual(table.extractor.spec, Self.validSpec.carriers)
    }
}

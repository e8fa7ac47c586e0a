import XCTest
@testable import DevmeshRouting

final class HostSelectionTests: XCTestCase {
    private func service(forHost host: String, in table: RouteTable) -> Int? {
        var bytes = Array(host.utf8)
        return bytes.withUnsafeMutableBytes { table.service(forHost: UnsafeRawBufferPointer($0)) }
    }

    private func gatewaySpec(withDefault: Bool) -> RoutingSpec {
        var services = [
            ServiceSpec(name: "web", hosts: ["web.example.com", "::1", "10.0.0.5"],
                        baseline: [EndpointSpec(host: "10.0.0.1", port: 80)]),
            ServiceSpec(name: "shop", hosts: ["Shop.Example.com", "[fe80::1]"],
                        baseline: [EndpointSpec(host: "10.0.0.2", port: 80)]),
        ]
        if withDefault {
            services.append(ServiceSpec(name: "fallback", baseline: [EndpointSpec(host: "10.0.0.3", port: 80)]))
        }
        return RoutingSpec(services: services)
    }

    func testHostSelectsServiceOrDefault() throws {
        let table = try RouteTable.build(gatewaySpec(withDefault: true), version: 1)
        let rows: [(host: String, expected: Int?)] = [
            ("web.example.com", 0),
            ("WEB.Example.COM", 0),
            ("web.example.com:8080", 0),
            ("Web.Example.Com:443", 0),
            ("web.example.com.", 0),
            ("web.example.com.:8080", 0),
            (" \tweb.example.com ", 0),
            ("10.0.0.5", 0),
            ("10.0.0.5:80", 0),
            ("[::1]", 0),
            ("[::1]:8080", 0),
            ("shop.example.com", 1),
            ("SHOP.EXAMPLE.COM:80", 1),
            ("[FE80::1]:443", 1),
            ("unknown.example.com", 2),
            ("web.example.co", 2),
            ("web.example.com.evil", 2),
            ("[::2]:80", 2),
            ("[::1", 2),
            ("", 2),
            (":8080", 2),
        ]
        for row in rows {
            XCTAssertEqual(service(forHost: row.host, in: table), row.expected, "Host: \(row.host)")
        }
    }

    func testNoMatchWithoutDefaultServiceIsNil() throws {
        let table = try RouteTable.build(gatewaySpec(withDefault: false), version: 1)
        XCTAssertNil(table.defaultService)
        XCTAssertEqual(service(forHost: "web.example.com:80", in: table), 0)
        for host in ["unknown.example.com", "", "[::2]", "example.com"] {
            XCTAssertNil(service(forHost: host, in: table), "Host: \(host)")
        }
    }

    func testSidecarDefaultServiceTakesEveryHost() throws {
        let table = try RouteTable.build(
            RoutingSpec(services: [ServiceSpec(name: "app", baseline: [EndpointSpec(host: "127.0.0.1", port: 8080)])]),
            version: 1)
        for host in ["anything", "localhost:15001", "", "[::1]:80"] {
            XCTAssertEqual(service(forHost: host, in: table), 0, "Host: \(host)")
        }
    }
}

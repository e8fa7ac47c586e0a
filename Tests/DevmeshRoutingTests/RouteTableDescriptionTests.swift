import Foundation
import XCTest
@testable import DevmeshRouting

final class RouteTableDescriptionTests: XCTestCase {
    private func parse(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testDescribeIsJSONWithEverythingTheAdminEndpointShows() throws {
        var spec = RouteTableBuildTests.validSpec
        spec.services[0].hosts = ["Web.Example.com", "::1"]
        spec.carriers = CarrierSpec(keyNames: ["sd-routing-key"], customHeaders: ["x-sandbox"])
        let json = try parse(try RouteTable.build(spec, version: 7).describe())

        XCTAssertEqual(json["version"] as? Int, 7)
        XCTAssertEqual(json["defaultService"] as? String, "api")
        let carriers = try XCTUnwrap(json["carriers"] as? [String: Any])
        XCTAssertEqual(carriers["keyNames"] as? [String], ["sd-routing-key"])
        XCTAssertEqual(carriers["customHeaders"] as? [String], ["x-sandbox"])

        let services = try XCTUnwrap(json["services"] as? [[String: Any]])
        XCTAssertEqual(services.map { $0["name"] as? String }, ["web", "api"])
        XCTAssertEqual(services[0]["hosts"] as? [String], ["web.example.com", "[::1]"])
        XCTAssertEqual(services.map { $0["default"] as? Bool }, [false, true])
        let baseline = try XCTUnwrap(services[1]["baseline"] as? [String: Any])
        XCTAssertEqual(baseline["destination"] as? Int, 3)
        XCTAssertEqual(baseline["endpoints"] as? [String], ["10.0.0.2:9090"])

        let routes = try XCTUnwrap(services[0]["routes"] as? [[String: Any]])
        XCTAssertEqual(routes.map { $0["routingKey"] as? String }, ["abc", "def"])
        XCTAssertEqual(routes.map { $0["sandbox"] as? String }, ["feature-x", "def"])
        XCTAssertEqual(routes.map { $0["destination"] as? Int }, [1, 2])
        XCTAssertEqual(routes.map { $0["fallback"] as? String }, ["fail", "baseline"])
        XCTAssertEqual(routes[1]["endpoints"] as? [String], ["10.0.1.2:8080", "10.0.1.3:8080"])
    }

    func testStringsFromConfigurationAreEscaped() throws {
        let awkward = "we\"b\\\n\t\u{1}é"
        let spec = RoutingSpec(services: [ServiceSpec(name: awkward, baseline: [EndpointSpec(host: "h", port: 1)],
                                                      routes: [RouteSpec(routingKey: "k", sandbox: awkward,
                                                                         endpoints: [EndpointSpec(host: "h", port: 2)])])])
        let json = try parse(try RouteTable.build(spec, version: 0).describe())
        let services = try XCTUnwrap(json["services"] as? [[String: Any]])
        XCTAssertEqual(services[0]["name"] as? String, awkward)
        XCTAssertEqual((services[0]["routes"] as? [[String: Any]])?.first?["sandbox"] as? String, awkward)
        XCTAssertTrue(json["defaultService"] as? String == awkward)
    }

    func testNoDefaultServiceIsNull() throws {
        var spec = RouteTableBuildTests.validSpec
        spec.services[1].hosts = ["api.example.com"]
        let json = try parse(try RouteTable.build(spec, version: 1).describe())
        XCTAssertTrue(json["defaultService"] is NSNull)
    }
}

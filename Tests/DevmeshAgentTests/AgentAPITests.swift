import DevmeshAgent
import DevmeshRoutesAPI
import XCTest

/// The REST API and the HTTP twin, endpoint by endpoint, without sockets.
final class AgentAPITests: XCTestCase {
    private func api() throws -> AgentAPI {
        AgentAPI(service: try Fixture.service(self))
    }

    private func request(_ method: String, _ target: String, _ body: String? = nil,
                         contentType: String? = "application/json") -> APIRequest {
        APIRequest(method: method, target: target, contentType: body == nil ? nil : contentType,
                   body: Array((body ?? "").utf8))
    }

    private let featureX = #"{"name":"feature-x","labels":{"team":"pay"},"forks":[{"forkOf":{"kind":"Deployment","#
        + #""namespace":"hotrod","name":"route"},"ports":[{"workloadPort":8083,"destinations":[{"host":"route-x.hotrod.svc","#
        + #""port":8083}]}]}]}"#

    func testSandboxLifecycle() throws {
        let api = try api()
        let created = api.handle(request("POST", "/api/v1/sandboxes", featureX))
        XCTAssertEqual(created.status, 201, "\(String(describing: created.body))")
        XCTAssertEqual(created.headers.first?.value, "/api/v1/sandboxes/feature-x")
        let body = try XCTUnwrap(created.body?.objectValue)
        let key = try XCTUnwrap(body["routingKey"]?.stringValue)
        XCTAssertEqual(key.count, 13)
        XCTAssertEqual(body["routingHeader"], .string("baggage: sd-routing-key=\(key)"))
        XCTAssertEqual(body["created"], "2023-11-14T22:13:20Z")

        XCTAssertEqual(api.handle(request("GET", "/api/v1/sandboxes/feature-x")).body, created.body)
        XCTAssertEqual(api.handle(request("HEAD", "/api/v1/sandboxes/feature-x")).status, 200)
        let list = api.handle(request("GET", "/api/v1/sandboxes"))
        XCTAssertEqual(list.body?.objectValue?["sandboxes"]?.arrayValue?.count, 1)

        let twin = api.handle(request("GET", "/api/v1/workloads/routing-rules?baselineName=route&baselineKind=Deployment"))
        XCTAssertEqual(twin.status, 200)
        XCTAssertEqual(twin.body, GetWorkloadRoutingRulesResponse(routingRules: [WorkloadRoutingRule(
            routingKey: key, baseline: Fixture.workload("route"), destinationSandbox: DestinationSandbox(name: "feature-x"),
            mappings: [WorkloadPortMapping(workloadPort: 8083, destinations: [Location(host: "route-x.hotrod.svc", port: 8083)])])]).json)
        let filteredOut = api.handle(request("GET", "/api/v1/workloads/routing-rules?baselineNamespace=other"))
        XCTAssertEqual(filteredOut.body, ["routingRules": []])

        XCTAssertEqual(api.handle(request("DELETE", "/api/v1/sandboxes/feature-x")).status, 204)
        XCTAssertEqual(api.handle(request("DELETE", "/api/v1/sandboxes/feature-x")).status, 404)
        XCTAssertEqual(api.handle(request("GET", "/api/v1/workloads/routing-rules")).body, ["routingRules": []])
    }

    /// Status codes and error bodies: each row is a request and the status, code and field the
    /// client must see.
    func testErrorsSayWhatToFix() throws {
        let api = try api()
        XCTAssertEqual(api.handle(request("POST", "/api/v1/sandboxes", featureX)).status, 201)
        let table: [(String, APIRequest, Int, String, String?)] = [
            ("duplicate name", request("POST", "/api/v1/sandboxes", featureX), 409, "conflict", "name"),
            ("invalid JSON", request("POST", "/api/v1/sandboxes", "{\"name\":"), 400, "invalid", nil),
            ("empty body", request("POST", "/api/v1/sandboxes", ""), 400, "invalid", nil),
            ("not JSON content type", request("POST", "/api/v1/sandboxes", featureX, contentType: "text/plain"), 415,
             "unsupported_media_type", nil),
            ("unknown field", request("POST", "/api/v1/sandboxes", #"{"name":"y","fork":[]}"#), 400, "invalid", "fork"),
            ("unknown nested field", request("POST", "/api/v1/sandboxes",
                                             #"{"name":"y","forks":[{"forkOf":{"kind":"Deployment","namespace":"n","name":"w"},"#
                                             + #""ports":[{"port":80}]}]}"#), 400, "invalid", "forks[0].ports[0].port"),
            ("wrong type", request("POST", "/api/v1/sandboxes", #"{"name":7}"#), 400, "invalid", "name"),
            ("validation", request("POST", "/api/v1/sandboxes", #"{"name":"y","forks":[]}"#), 400, "invalid", "forks"),
            ("key taken", request("POST", "/api/v1/routegroups", #"{"name":"g","routingKey":"KEY","match":{"sandboxes":["a"]}}"#
                                  .replacingOccurrences(of: "KEY", with: api.service.sandboxes[0].routingKey)),
             409, "conflict", "routingKey"),
            ("missing sandbox", request("GET", "/api/v1/sandboxes/nope"), 404, "not_found", nil),
            ("missing group", request("DELETE", "/api/v1/routegroups/nope"), 404, "not_found", nil),
            ("unknown path", request("GET", "/api/v2/sandboxes"), 404, "not_found", nil),
            ("wrong method", request("PATCH", "/api/v1/sandboxes/feature-x", "{}"), 405, "method_not_allowed", nil),
            ("PUT name mismatch", request("PUT", "/api/v1/sandboxes/other", featureX), 400, "invalid", "name"),
            ("bad escape in path", request("GET", "/api/v1/sandboxes/%zz"), 400, "invalid", nil),
        ]
        for (name, request, status, code, field) in table {
            let response = api.handle(request)
            XCTAssertEqual(response.status, status, name)
            let error = response.body?.objectValue?["error"]?.objectValue
            XCTAssertEqual(error?["code"]?.stringValue, code, name)
            XCTAssertEqual(error?["field"]?.stringValue, field, name)
            XCTAssertFalse((error?["message"]?.stringValue ?? "").isEmpty, name)
        }
        let wrongMethod = api.handle(request("PATCH", "/api/v1/sandboxes"))
        XCTAssertEqual(wrongMethod.headers.first?.name, "allow")
        XCTAssertEqual(wrongMethod.headers.first?.value, "GET, POST, HEAD")
    }

    func testPutCreatesThenReplacesKeepingTheKey() throws {
        let api = try api()
        let body = featureX.replacingOccurrences(of: #""name":"feature-x","#, with: "")
        let first = api.handle(request("PUT", "/api/v1/sandboxes/feature-x", body))
        XCTAssertEqual(first.status, 201)
        let key = first.body?.objectValue?["routingKey"]
        let changed = body.replacingOccurrences(of: "8083}]}]}]}", with: "9090}]}]}]}")
        let second = api.handle(request("PUT", "/api/v1/sandboxes/feature-x", changed))
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.body?.objectValue?["routingKey"], key)
        XCTAssertEqual(api.service.routingRules(WorkloadRoutingRulesRequest()).first?.mappings.first?.destinations.first?.port, 9090)
    }

    func testRouteGroupShowsWhereItRoutes() throws {
        let api = try api()
        XCTAssertEqual(api.handle(request("POST", "/api/v1/sandboxes", featureX)).status, 201)
        let group = api.handle(request("POST", "/api/v1/routegroups",
                                       #"{"name":"g","routingKey":"group-key","match":{"labels":{"team":"pa*"}}}"#))
        XCTAssertEqual(group.status, 201)
        let body = try XCTUnwrap(group.body?.objectValue)
        XCTAssertEqual(body["matchedSandboxes"], ["feature-x"])
        XCTAssertEqual(body["routes"], [["workload": Fixture.workload("route").json, "sandbox": "feature-x", "shadowed": []]])
        let twin = api.handle(request("GET", "/api/v1/workloads/routing-rules?routingKey=group-key"))
        XCTAssertEqual(twin.body?.objectValue?["routingRules"]?.arrayValue?.count, 1)
        XCTAssertEqual(api.handle(request("GET", "/api/v1/routegroups")).body?.objectValue?["routeGroups"]?.arrayValue?.count, 1)
        XCTAssertEqual(api.handle(request("DELETE", "/api/v1/routegroups/g")).status, 204)
    }

    func testTargetsArePercentDecoded() {
        XCTAssertEqual(RequestTarget("/api/v1/sandboxes/a%2Db?x=1+2&y=%C3%A9&z")?.segments, ["api", "v1", "sandboxes", "a-b"])
        XCTAssertEqual(RequestTarget("/a?x=1+2&y=%C3%A9&z")?.query.map(\.value), ["1 2", "é", ""])
        XCTAssertNil(RequestTarget("/a%"))
        XCTAssertNil(RequestTarget("/a%FF"))
        XCTAssertNil(RequestTarget("a"))
        XCTAssertEqual(RequestTarget.percentEncode("a b/é"), "a%20b%2F%C3%A9")
    }
}

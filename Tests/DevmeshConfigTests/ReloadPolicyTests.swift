import DevmeshRouting
import XCTest
import DevmeshConfig

/// Which changes a live reload cannot apply.
final class ReloadPolicyTests: XCTestCase {
    private let base = ProxyConfiguration(
        listeners: [ListenAddress(host: "127.0.0.1", port: 8080), ListenAddress(host: "::1", port: 8080)],
        workers: 2, admin: ListenAddress(host: "127.0.0.1", port: 9901),
        routing: RoutingSpec(services: [ServiceSpec(name: "a", baseline: [EndpointSpec(host: "127.0.0.1", port: 1)])]))

    func testEachChangeAndWhetherItNeedsARestart() {
        let cases: [(change: (inout ProxyConfiguration) -> Void, expected: [String], what: String)] = [
            ({ _ in }, [], "nothing changed"),
            ({ $0.listeners.reverse() }, [], "same listeners in another order"),
            ({ $0.listeners.append(ListenAddress(host: "0.0.0.0", port: 1)) }, ["listen"], "listener added"),
            ({ $0.listeners[0].port = 8081 }, ["listen"], "listener port"),
            ({ $0.workers = nil }, ["workers"], "workers to auto"),
            ({ $0.workers = 3 }, ["workers"], "worker count"),
            ({ $0.admin = nil }, ["admin"], "admin removed"),
            ({ $0.admin?.port = 9902 }, ["admin"], "admin port"),
            ({ $0.listeners = [ListenAddress(host: "127.0.0.1", port: 1)]; $0.workers = 1; $0.admin = nil },
             ["listen", "workers", "admin"], "all three, in key order"),
            ({ $0.routing.services[0].routes = [RouteSpec(routingKey: "k", endpoints: [EndpointSpec(host: "h", port: 2)])] },
             [], "routes"),
            ({ $0.http1.maxHeadBytes = 4_096; $0.limits.maxConnectionsPerWorker = 1 }, [], "limits"),
            ({ $0.timeouts.upstreamResponse = .off }, [], "timeouts"),
            ({ $0.accessLog = .stdout; $0.drainTimeout = .seconds(1) }, [], "access log and drain timeout"),
        ]
        for testCase in cases {
            var new = base
            testCase.change(&new)
            XCTAssertEqual(restartRequiredChanges(from: base, to: new), testCase.expected, testCase.what)
        }
    }
}

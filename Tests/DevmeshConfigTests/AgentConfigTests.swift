@testable import DevmeshConfig
import DevmeshRouting
import XCTest

/// The control-plane settings: `agent:` and the services' `workload:`, and the matching flags.
final class AgentConfigTests: XCTestCase {
    private func parse(_ yaml: String) throws -> ProxyConfiguration {
        try ConfigLoader.parse(yaml: yaml, source: "agent.yaml")
    }

    func testWorkloadsSubscribeTheirServices() throws {
        let configuration = try parse("""
            agent:
              address: 127.0.0.1:7777
              sync_timeout: 2s
            services:
              - name: web
                hosts: [web.local]
                baseline: 127.0.0.1:9001
                workload: Deployment/hotrod/web
              - name: api
                hosts: [api.local]
                baseline: 10.0.0.1:8080
                workload: ArgoRollout/hotrod/api
                workload_port: 8443
            """)
        let agent = try XCTUnwrap(configuration.agent)
        XCTAssertEqual(agent.address, EndpointSpec(host: "127.0.0.1", port: 7777))
        XCTAssertEqual(agent.syncTimeout, Milliseconds(2000))
        XCTAssertEqual(agent.subscriptions, [
            WorkloadSubscription(service: "web", kind: "Deployment", namespace: "hotrod", name: "web", port: 9001),
            WorkloadSubscription(service: "api", kind: "ArgoRollout", namespace: "hotrod", name: "api", port: 8443),
        ], "the workload port defaults to the baseline's port")
    }

    func testShortAgentSpelling() throws {
        let configuration = try parse("""
            agent: routeserver.signadot.svc:7777
            services:
              - name: web
                baseline: 127.0.0.1:9001
                workload: Deployment/default/web
            """)
        XCTAssertEqual(configuration.agent?.address, EndpointSpec(host: "routeserver.signadot.svc", port: 7777))
        XCTAssertEqual(configuration.agent?.syncTimeout, AgentSettings.defaultSyncTimeout)
        XCTAssertEqual(configuration.agent?.keepaliveInterval, Milliseconds(5000))
        XCTAssertEqual(configuration.agent?.keepaliveTimeout, Milliseconds(15000))
    }

    func testKeepaliveKeys() throws {
        let configuration = try parse("""
            agent: {address: 127.0.0.1:7777, keepalive_interval: 250ms, keepalive_timeout: 2s}
            services:
              - name: web
                baseline: 127.0.0.1:9001
                workload: Deployment/default/web
            """)
        XCTAssertEqual(configuration.agent?.keepaliveInterval, Milliseconds(250))
        XCTAssertEqual(configuration.agent?.keepaliveTimeout, Milliseconds(2000))
        let off = try parse("""
            agent: {address: 127.0.0.1:7777, keepalive_interval: off}
            services:
              - name: web
                baseline: 127.0.0.1:9001
                workload: Deployment/default/web
            """)
        XCTAssertEqual(off.agent?.keepaliveInterval.isOff, true)
    }

    func testProblemsNameTheKey() {
        let cases: [(yaml: String, expected: String)] = [
            ("""
             services:
               - name: web
                 baseline: 127.0.0.1:9001
                 workload: Deployment/default/web
             """, "agent.yaml:4: services[0].workload: a workload needs an agent to watch"),
            ("""
             agent: 127.0.0.1:7777
             services:
               - name: web
                 baseline: 127.0.0.1:9001
             """, "agent.yaml:1: agent: no service names a workload"),
            ("""
             agent: 127.0.0.1:7777
             services:
               - name: web
                 baseline: 127.0.0.1:9001
                 workload: Deployment/web
             """, "services[0].workload: expected KIND/NAMESPACE/NAME"),
            ("""
             agent: 127.0.0.1:7777
             services:
               - name: web
                 baseline: 127.0.0.1:9001
                 workload: Deployment/Default/web
             """, "workload namespace 'Default' must be lower-case"),
            ("""
             agent: 127.0.0.1:7777
             services:
               - name: web
                 baseline: 127.0.0.1:9001
                 workload: Deployment/default/web
                 workload_port: 70000
             """, "services[0].workload_port:"),
            ("""
             agent: {address: 127.0.0.1:7777, sync_timeout: never}
             services:
               - name: web
                 baseline: 127.0.0.1:9001
                 workload: Deployment/default/web
             """, "agent.sync_timeout:"),
            ("""
             agent: {address: 127.0.0.1:7777, keepalive_timeout: off}
             services:
               - name: web
                 baseline: 127.0.0.1:9001
                 workload: Deployment/default/web
             """, "agent.keepalive_timeout:"),
        ]
        for (index, testCase) in cases.enumerated() {
            XCTAssertThrowsError(try parse(testCase.yaml), "case \(index)") { error in
                XCTAssertTrue("\(error)".contains(testCase.expected), "case \(index): \(error)")
            }
        }
    }

    func testQuickStartFlags() throws {
        let configuration = try QuickStartOptions(baseline: "127.0.0.1:9001", agent: "127.0.0.1:7777",
                                                  workload: "Deployment/default/web").makeConfiguration()
        XCTAssertEqual(configuration.agent?.subscriptions.first,
                       WorkloadSubscription(service: "default", kind: "Deployment", namespace: "default", name: "web",
                                            port: 9001))
        let errors: [(QuickStartOptions, String)] = [
            (QuickStartOptions(baseline: "127.0.0.1:9001", agent: "127.0.0.1:7777"), "--agent \"127.0.0.1:7777\": needs --workload"),
            (QuickStartOptions(baseline: "127.0.0.1:9001", workload: "Deployment/a/b"), "--workload \"Deployment/a/b\": needs --agent"),
            (QuickStartOptions(baseline: "127.0.0.1:9001", workloadPort: "80"), "--workload-port \"80\": needs --workload"),
            (QuickStartOptions(configPath: "/nonexistent.yaml", agent: "127.0.0.1:7777"), "--agent"),
        ]
        for (options, expected) in errors {
            XCTAssertThrowsError(try options.makeConfiguration()) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testAgentChangesNeedARestart() throws {
        let before = try parse("""
            agent: 127.0.0.1:7777
            services: [{name: web, baseline: 127.0.0.1:9001, workload: Deployment/default/web}]
            """)
        var after = before
        after.agent?.address.port = 7778
        XCTAssertEqual(restartRequiredChanges(from: before, to: after), ["agent"])
    }
}

import DevmeshRouting
import XCTest
@testable import DevmeshConfig

/// The quick-start flags: the configuration they build, and the message each mistake gives.
final class QuickStartTests: XCTestCase {
    private func make(_ options: QuickStartOptions, file: StaticString = #filePath,
                      line: UInt = #line) -> ProxyConfiguration? {
        do {
            return try options.makeConfiguration(currentDirectory: "/work/dir")
        } catch {
            XCTFail("unexpected error:\n\(error)", file: file, line: line)
            return nil
        }
    }

    func testBaselineAloneIsASidecarWithDefaults() {
        let expected = ProxyConfiguration(
            listeners: [ListenAddress(host: "127.0.0.1", port: 8080)],
            routing: RoutingSpec(services: [ServiceSpec(name: "default",
                                                        baseline: [EndpointSpec(host: "127.0.0.1", port: 9001)])]))
        XCTAssertEqual(make(QuickStartOptions(baseline: "127.0.0.1:9001")), expected)
    }

    func testEveryFlag() {
        let options = QuickStartOptions(
            listen: ["0.0.0.0:8080", "[::]:8080"], baseline: "10.0.0.1:80,web.svc:8080",
            routes: ["4835rlwxwbwyl=10.0.0.2:80", "k2=10.0.0.3:80,10.0.0.4:80"], fallback: "baseline",
            customHeaders: ["X-Sandbox"], workers: "4", admin: "127.0.0.1:9901", drainTimeout: "2.5",
            accessLog: "access.jsonl")
        let service = ServiceSpec(
            name: "default",
            baseline: [EndpointSpec(host: "10.0.0.1", port: 80), EndpointSpec(host: "web.svc", port: 8080)],
            routes: [
                RouteSpec(routingKey: "4835rlwxwbwyl", endpoints: [EndpointSpec(host: "10.0.0.2", port: 80)],
                          fallback: .baseline),
                RouteSpec(routingKey: "k2", endpoints: [EndpointSpec(host: "10.0.0.3", port: 80),
                                                        EndpointSpec(host: "10.0.0.4", port: 80)],
                          fallback: .baseline),
            ])
        let expected = ProxyConfiguration(
            listeners: [ListenAddress(host: "0.0.0.0", port: 8080), ListenAddress(host: "::", port: 8080)],
            workers: 4, admin: ListenAddress(host: "127.0.0.1", port: 9901), drainTimeout: Milliseconds(2_500),
            accessLog: .file(path: "/work/dir/access.jsonl"),
            routing: RoutingSpec(services: [service], carriers: CarrierSpec(customHeaders: ["x-sandbox"])))
        XCTAssertEqual(make(options), expected)
    }

    func testOverrideSpellings() {
        let base = QuickStartOptions(baseline: "127.0.0.1:1")
        let cases: [(change: (inout QuickStartOptions) -> Void, check: (ProxyConfiguration) -> Bool, what: String)] = [
            ({ $0.workers = "auto" }, { $0.workers == nil }, "workers auto"),
            ({ $0.drainTimeout = "30" }, { $0.drainTimeout == Milliseconds(30_000) }, "whole seconds"),
            ({ $0.drainTimeout = "0.05" }, { $0.drainTimeout == Milliseconds(50) }, "fraction of a second"),
            ({ $0.drainTimeout = "750ms" }, { $0.drainTimeout == Milliseconds(750) }, "duration with unit"),
            ({ $0.batchWindowMicroseconds = "0" }, { $0.batchWindowMicroseconds == 0 }, "batch window off"),
            ({ _ in }, { $0.batchWindowMicroseconds == 100 }, "batch window default"),
            ({ $0.accessLog = "stdout" }, { $0.accessLog == .stdout }, "stdout"),
            ({ $0.accessLog = "off" }, { $0.accessLog == .off }, "off"),
            ({ $0.accessLog = "/var/log/a.jsonl" }, { $0.accessLog == .file(path: "/var/log/a.jsonl") }, "absolute"),
            ({ $0.fallback = "fail"; $0.routes = ["k=127.0.0.1:2"] },
             { $0.routing.services[0].routes[0].fallback == .fail }, "fallback fail"),
            ({ $0.upstreamProtocol = "h2c"; $0.routes = ["k=127.0.0.1:2"] },
             { $0.routing.services[0].upstreamProtocol == .h2c && $0.routing.services[0].routes[0].upstreamProtocol == nil },
             "upstream protocol for the baseline and (by default) the routes"),
            ({ _ in }, { $0.routing.services[0].upstreamProtocol == .auto }, "protocol auto by default"),
        ]
        for testCase in cases {
            var options = base
            testCase.change(&options)
            XCTAssertTrue(make(options).map(testCase.check) ?? false, testCase.what)
        }
    }

    /// Each bad flag and the exact message: the flag, its value, the problem.
    func testFlagErrorsNameTheFlag() {
        let base = QuickStartOptions(baseline: "127.0.0.1:1")
        let cases: [(change: (inout QuickStartOptions) -> Void, expected: String)] = [
            ({ $0.baseline = nil }, "--baseline: required unless --config is given"),
            ({ $0.baseline = "127.0.0.1" }, "--baseline \"127.0.0.1\": '127.0.0.1': expected HOST:PORT, e.g. 127.0.0.1:8080"),
            ({ $0.baseline = "a:1,a:1" }, "--baseline \"a:1,a:1\": endpoint a:1 is listed twice"),
            ({ $0.baseline = "a:1," }, "--baseline \"a:1,\": '': expected HOST:PORT"),
            ({ $0.routes = ["abc"] }, "--route \"abc\": expected KEY=HOST:PORT[,HOST:PORT...]"),
            ({ $0.routes = ["k=127.0.0.1:99999"] }, "--route \"k=127.0.0.1:99999\": port 99999 is out of range (1-65535)"),
            ({ $0.routes = ["=127.0.0.1:2"] }, "--route \"=127.0.0.1:2\": the routing key is empty"),
            ({ $0.routes = ["a b=127.0.0.1:2"] }, "--route \"a b=127.0.0.1:2\": routing key 'a b' contains a space"),
            ({ $0.routes = ["k=127.0.0.1:2", "k=127.0.0.1:3"] }, "--route \"k=127.0.0.1:3\": routing key 'k' is routed twice"),
            ({ $0.fallback = "maybe" }, "--fallback \"maybe\": expected fail or baseline"),
            ({ $0.upstreamProtocol = "h3" }, "--upstream-protocol \"h3\": expected auto, http1 or h2c"),
            ({ $0.customHeaders = ["x sandbox"] }, "--custom-header \"x sandbox\": 'x sandbox' is not a valid header name"),
            ({ $0.customHeaders = ["X-A", "x-a"] }, "--custom-header \"x-a\": given twice"),
            ({ $0.listen = ["example.com:80"] }, "--listen \"example.com:80\": 'example.com' is not an IP address or localhost"),
            ({ $0.listen = ["127.0.0.1:80", "127.0.0.1:80"] }, "--listen \"127.0.0.1:80\": given twice"),
            ({ $0.workers = "0" }, "--workers \"0\": out of range (1-1024, or auto)"),
            ({ $0.workers = "many" }, "--workers \"many\": expected a whole number, got 'many'"),
            ({ $0.batchWindowMicroseconds = "5000" }, "--batch-window-us \"5000\": out of range (0-1000)"),
            ({ $0.batchWindowMicroseconds = "50us" }, "--batch-window-us \"50us\": expected a whole number, got '50us'"),
            ({ $0.admin = "127.0.0.1:8080" }, "--admin \"127.0.0.1:8080\": 127.0.0.1:8080 is also a listen address"),
            ({ $0.drainTimeout = "abc" }, "--drain-timeout \"abc\": expected a number of seconds such as 15 or 0.5, got 'abc'"),
            ({ $0.drainTimeout = "0" }, "--drain-timeout \"0\": cannot be 0"),
            ({ $0.drainTimeout = "1.0001" }, "--drain-timeout \"1.0001\": '1.0001': at most millisecond precision"),
            ({ $0.drainTimeout = "100000" }, "--drain-timeout \"100000\": 100000 is out of range (1ms-24h)"),
            ({ $0.accessLog = "" }, "--access-log \"\": expected off, stdout or an absolute file path"),
        ]
        for (index, testCase) in cases.enumerated() {
            var options = base
            testCase.change(&options)
            XCTAssertThrowsError(try options.makeConfiguration(currentDirectory: "/")) { error in
                let text = (error as? ConfigError)?.description ?? "\(error)"
                XCTAssertTrue(text.contains(testCase.expected),
                              "case \(index):\nexpected: \(testCase.expected)\nactual:   \(text)")
            }
        }
    }

    func testEveryBadFlagIsReportedAtOnce() {
        let options = QuickStartOptions(routes: ["abc"], fallback: "x", workers: "0")
        XCTAssertThrowsError(try options.makeConfiguration()) { error in
            XCTAssertEqual((error as? ConfigError)?.issues.map(\.path),
                           ["--baseline", "--fallback \"x\"", "--route \"abc\"", "--workers \"0\""])
        }
    }

    // MARK: - With --config

    private func writeConfig(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("devmesh-quickstart-\(getpid())-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testConfigFileWithOverrides() throws {
        let path = try writeConfig("""
            listen: 127.0.0.1:7000
            workers: 2
            drain_timeout: 5s
            services:
              - name: web
                baseline: 127.0.0.1:9001
            """)
        let fileOnly = try QuickStartOptions(configPath: path).makeConfiguration()
        XCTAssertEqual(fileOnly, try ConfigLoader.load(path: path))

        let overridden = try QuickStartOptions(configPath: path, workers: "8", admin: "[::1]:9901",
                                               drainTimeout: "60", accessLog: "stdout").makeConfiguration()
        var expected = fileOnly
        expected.workers = 8
        expected.admin = ListenAddress(host: "::1", port: 9901)
        expected.drainTimeout = Milliseconds(60_000)
        expected.accessLog = .stdout
        XCTAssertEqual(overridden, expected)
    }

    func testConfigRejectsRoutingFlagsNamingEach() throws {
        let path = try writeConfig("services:\n  - name: a\n    baseline: 127.0.0.1:1\n")
        let options = QuickStartOptions(configPath: path, listen: ["127.0.0.1:1"], baseline: "127.0.0.1:2",
                                        routes: ["k=127.0.0.1:3"], fallback: "fail", customHeaders: ["x-a"])
        XCTAssertThrowsError(try options.makeConfiguration()) { error in
            XCTAssertEqual((error as? ConfigError)?.description, """
                --listen: cannot be combined with --config (set listen in the file)
                --baseline: cannot be combined with --config (set services[].baseline in the file)
                --route: cannot be combined with --config (set services[].routes in the file)
                --fallback: cannot be combined with --config (set services[].routes[].fallback in the file)
                --custom-header: cannot be combined with --config (set routing.custom_headers in the file)
                """)
        }
    }

    func testConfigOverrideCollidingWithFileListenerIsAnError() throws {
        let path = try writeConfig("listen: 127.0.0.1:7000\nservices:\n  - name: a\n    baseline: 127.0.0.1:1\n")
        XCTAssertThrowsError(try QuickStartOptions(configPath: path, admin: "127.0.0.1:7000").makeConfiguration()) { error in
            XCTAssertEqual((error as? ConfigError)?.description,
                           "--admin \"127.0.0.1:7000\": 127.0.0.1:7000 is also a listen address")
        }
    }

    func testConfigFileErrorsPassThrough() {
        XCTAssertThrowsError(try QuickStartOptions(configPath: "/nonexistent.yaml").makeConfiguration()) { error in
            XCTAssertEqual((error as? ConfigError)?.description, "/nonexistent.yaml: no such file")
        }
    }
}

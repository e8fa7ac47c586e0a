import DevmeshHTTP1
import DevmeshRouting
import XCTest
@testable import DevmeshConfig

/// Valid documents and the exact model each must produce.
final class ValidConfigTests: XCTestCase {
    private func parse(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> ProxyConfiguration? {
        do {
            return try ConfigLoader.parse(yaml: yaml, source: "test.yaml")
        } catch {
            XCTFail("unexpected error:\n\(error)", file: file, line: line)
            return nil
        }
    }

    private let minimalServices = """
        services:
          - name: app
            baseline: 127.0.0.1:9001
        """

    func testMinimalFileGetsEveryDefault() {
        let expected = ProxyConfiguration(
            listeners: [ListenAddress(host: "127.0.0.1", port: 8080)],
            workers: nil, admin: nil, drainTimeout: Milliseconds(15_000), accessLog: .off,
            http1: HTTP1Limits(maxHeadBytes: 65_536, maxHeaderCount: 100, maxChunkLineBytes: 4_096,
                               maxTrailerBytes: 16_384),
            limits: ProxyLimits(maxConnectionsPerWorker: 10_000, upstreamMaxIdlePerEndpoint: 1_024,
                                upstreamMaxConnectionsPerEndpoint: 1_024),
            timeouts: Timeouts(requestHead: Milliseconds(10_000), downstreamIdle: Milliseconds(60_000),
                               upstreamConnect: Milliseconds(2_000), upstreamResponse: Milliseconds(15_000),
                               upstreamIdle: Milliseconds(30_000), streamIdle: Milliseconds(60_000)),
            routing: RoutingSpec(
                services: [ServiceSpec(name: "app", baseline: [EndpointSpec(host: "127.0.0.1", port: 9001)])],
                carriers: CarrierSpec(keyNames: ["sd-routing-key", "sd-sandbox", "sd-workspace"], customHeaders: [])))
        XCTAssertEqual(parse(minimalServices), expected)
    }

    func testALowerConnectionCapAlsoCapsTheDefaultIdlePool() {
        let configuration = parse("limits:\n  upstream_max_connections_per_endpoint: 100\n" + minimalServices)
        XCTAssertEqual(configuration?.limits.upstreamMaxIdlePerEndpoint, 100,
                       "an idle default above the connection cap must follow the cap, not be an error")
        XCTAssertEqual(configuration?.limits.upstreamMaxConnectionsPerEndpoint, 100)
    }

    func testEveryKeySet() {
        let yaml = """
            listen:
              - 0.0.0.0:8080
              - "[::1]:8081"
              - localhost:0
            workers: 2
            admin: 127.0.0.1:9901
            drain_timeout: 45s
            access_log: /var/log/devmesh/access.jsonl
            batch_window_us: 200
            limits:
              max_head_bytes: 32KiB
              max_header_count: 200
              max_chunk_line_bytes: 1024
              max_trailer_bytes: 1 MiB
              max_connections_per_worker: 5000
              upstream_max_idle_per_endpoint: 8
              upstream_max_connections_per_endpoint: 128
            timeouts:
              request_head: 5s
              downstream_idle: 2m
              upstream_connect: 250ms
              upstream_response: 0s
              upstream_idle: 1h
              stream_idle: off
            routing:
              key_names: [sd-routing-key]
              custom_headers: [X-Sandbox, x-dev-key]
            services:
              - name: web
                hosts: [Web.Local, web]
                baseline: [10.0.0.1:80, "[fd00::1]:80", web-baseline.svc:8080]
                protocol: h2c
                routes:
                  - key: 4835rlwxwbwyl
                    sandbox: feature-x
                    endpoints: [10.0.0.2:80]
                    fallback: baseline
                    protocol: http1
                  - key: "1e3"
                    endpoints: 10.0.0.3:80
              - name: default
                baseline: 127.0.0.1:9001
            """
        let web = ServiceSpec(
            name: "web", hosts: ["web.local", "web"],
            baseline: [EndpointSpec(host: "10.0.0.1", port: 80), EndpointSpec(host: "fd00::1", port: 80),
                       EndpointSpec(host: "web-baseline.svc", port: 8080)],
            routes: [RouteSpec(routingKey: "4835rlwxwbwyl", sandbox: "feature-x",
                               endpoints: [EndpointSpec(host: "10.0.0.2", port: 80)], fallback: .baseline,
                               upstreamProtocol: .http1),
                     RouteSpec(routingKey: "1e3", sandbox: "1e3",
                               endpoints: [EndpointSpec(host: "10.0.0.3", port: 80)], fallback: .fail)],
            upstreamProtocol: .h2c)
        let fallback = ServiceSpec(name: "default", baseline: [EndpointSpec(host: "127.0.0.1", port: 9001)])
        var expected = ProxyConfiguration(
            listeners: [ListenAddress(host: "0.0.0.0", port: 8080), ListenAddress(host: "::1", port: 8081),
                        ListenAddress(host: "localhost", port: 0)],
            workers: 2, admin: ListenAddress(host: "127.0.0.1", port: 9901), drainTimeout: Milliseconds(45_000),
            accessLog: .file(path: "/var/log/devmesh/access.jsonl"),
            http1: HTTP1Limits(maxHeadBytes: 32_768, maxHeaderCount: 200, maxChunkLineBytes: 1_024,
                               maxTrailerBytes: 1_048_576),
            limits: ProxyLimits(maxConnectionsPerWorker: 5_000, upstreamMaxIdlePerEndpoint: 8,
                                upstreamMaxConnectionsPerEndpoint: 128),
            timeouts: Timeouts(requestHead: Milliseconds(5_000), downstreamIdle: Milliseconds(120_000),
                               upstreamConnect: Milliseconds(250), upstreamResponse: .off,
                               upstreamIdle: Milliseconds(3_600_000), streamIdle: .off),
            routing: RoutingSpec(services: [web, fallback],
                                 carriers: CarrierSpec(keyNames: ["sd-routing-key"],
                                                       customHeaders: ["x-sandbox", "x-dev-key"])))
        expected.batchWindowMicroseconds = 200
        XCTAssertEqual(parse(yaml), expected)
    }

    /// One key at a time: the YAML fragment and the field it must set.
    func testSingleKeySpellings() {
        let cases: [(yaml: String, check: (ProxyConfiguration) -> Bool, what: String)] = [
            ("listen: 127.0.0.1:1", { $0.listeners == [ListenAddress(host: "127.0.0.1", port: 1)] }, "single listen string"),
            ("listen: \"[::]:80\"", { $0.listeners == [ListenAddress(host: "::", port: 80)] }, "IPv6 any"),
            ("listen: LOCALHOST:80", { $0.listeners == [ListenAddress(host: "localhost", port: 80)] }, "localhost folds"),
            ("listen: [127.0.0.1:0, 127.0.0.1:0]", { $0.listeners.count == 2 }, "two port-0 listeners are distinct"),
            ("workers: auto", { $0.workers == nil }, "auto workers"),
            ("workers: 1024", { $0.workers == 1024 }, "max workers"),
            ("access_log: off", { $0.accessLog == .off }, "access log off (not YAML false)"),
            ("access_log: stdout", { $0.accessLog == .stdout }, "access log stdout"),
            ("drain_timeout: 1500ms", { $0.drainTimeout == Milliseconds(1_500) }, "milliseconds"),
            ("drain_timeout: 24h", { $0.drainTimeout == Milliseconds(86_400_000) }, "max duration"),
            ("workers: 1", { $0.batchWindowMicroseconds == 100 }, "batch window default"),
            ("batch_window_us: 0", { $0.batchWindowMicroseconds == 0 }, "batch window off"),
            ("batch_window_us: 1000", { $0.batchWindowMicroseconds == 1_000 }, "batch window maximum"),
            ("limits: {max_head_bytes: 1024}", { $0.http1.maxHeadBytes == 1_024 }, "bare bytes, minimum"),
            ("limits: {max_head_bytes: 1MiB}", { $0.http1.maxHeadBytes == 1_048_576 }, "MiB, maximum"),
            ("limits: {max_head_bytes: 2048B}", { $0.http1.maxHeadBytes == 2_048 }, "B unit"),
            ("limits: {max_header_count: 10000}", { $0.http1.maxHeaderCount == 10_000 }, "max header count"),
            ("timeouts: {upstream_response: off}", { $0.timeouts.upstreamResponse.isOff }, "response off"),
            ("timeouts: {stream_idle: 0ms}", { $0.timeouts.streamIdle.isOff }, "stream idle zero"),
            ("routing: {key_names: [], custom_headers: x-sandbox}",
             { $0.routing.carriers == CarrierSpec(keyNames: [], customHeaders: ["x-sandbox"]) },
             "custom headers only"),
            ("routing: {key_names: sd-routing-key}",
             { $0.routing.carriers.keyNames == ["sd-routing-key"] }, "single key name string"),
        ]
        for testCase in cases {
            guard let configuration = parse(testCase.yaml + "\n" + minimalServices) else {
                XCTFail("did not parse: \(testCase.what)")
                continue
            }
            XCTAssertTrue(testCase.check(configuration), testCase.what)
        }
    }

    func testAnchorsAndAliasesAreResolved() {
        let yaml = """
            services:
              - name: a
                hosts: [a]
                baseline: &shared [127.0.0.1:9001, 127.0.0.1:9002]
              - name: b
                baseline: *shared
            """
        let services = parse(yaml)?.routing.services
        XCTAssertEqual(services?.map(\.baseline), [
            [EndpointSpec(host: "127.0.0.1", port: 9001), EndpointSpec(host: "127.0.0.1", port: 9002)],
            [EndpointSpec(host: "127.0.0.1", port: 9001), EndpointSpec(host: "127.0.0.1", port: 9002)],
        ])
    }
}

import XCTest
@testable import DevmeshConfig

/// Each invalid document and the message it must produce: file, line, key path and problem.
final class InvalidConfigTests: XCTestCase {
    /// A valid services section, appended after the lines under test so their line numbers
    /// stay those written in each case.
    private static let services = """
        services:
          - name: app
            baseline: 127.0.0.1:9001
        """

    /// A case whose first lines are `prefix`, followed by a valid services section.
    private static func withServices(_ prefix: String) -> String { prefix + "\n" + services }

    private static let cases: [(yaml: String, expected: String)] = [
        // Unknown and misplaced keys.
        (withServices("listeners: [127.0.0.1:1]"), "test.yaml:1: listeners: unknown key (did you mean listen?)"),
        (withServices("limits:\n  max_head_bytez: 1KiB"),
         "test.yaml:2: limits.max_head_bytez: unknown key (did you mean max_head_bytes?)"),
        (withServices("max_head_bytes: 1KiB"), "test.yaml:1: max_head_bytes: unknown key here (it belongs under limits)"),
        (withServices("foo: 1"), "test.yaml:1: foo: unknown key (expected one of: listen, workers,"),
        (withServices("timeouts:\n  connect: 1s"), "test.yaml:2: timeouts.connect: unknown key (expected one of:"),
        (withServices("? [a]\n: 1"), "test.yaml:1: a key must be a plain name, found a list"),

        // Document shape.
        ("", "test.yaml: the file is empty"),
        ("# only a comment\n", "test.yaml: the file is empty"),
        ("- a\n- b\n", "test.yaml:1: the top level must be a mapping of keys (listen, workers"),
        ("hello", "test.yaml:1: the top level must be a mapping of keys"),
        ("services: [a", "test.yaml:2: invalid YAML"),
        ("workers: 1\nworkers: 2\n" + services, "test.yaml:1: duplicate key 'workers' in one mapping"),
        ("a: 1\n---\nb: 2\n", "test.yaml:2: invalid YAML: expected a single document in the stream"),
        ("workers: 1\n", "test.yaml:1: missing required key 'services'"),
        ("services: []", "test.yaml:1: services: needs at least one service"),
        ("services: {name: a}", "test.yaml:1: services: expected a list of services or a single one, found a mapping"),
        (withServices("admin:"), "test.yaml:1: admin: has no value (remove the key to use the default)"),
        (withServices("routing:\n  key_names:"), "test.yaml:2: routing.key_names: has no value"),
        (withServices("limits: 5"), "test.yaml:1: limits: must be a mapping of keys (max_head_bytes,"),

        // Listeners and admin.
        (withServices("listen: 127.0.0.1:70000"), "test.yaml:1: listen: port 70000 is out of range (0-65535)"),
        (withServices("listen: 127.0.0.1:http"), "test.yaml:1: listen: port 'http' is not a number"),
        (withServices("listen: \"::1:8080\""), "test.yaml:1: listen: '::1:8080': an IPv6 address needs brackets, e.g. [::1]:8080"),
        (withServices("listen: \"[::g]:80\""), "test.yaml:1: listen: '::g' is not a valid IPv6 address"),
        (withServices("listen: \"[::1]8080\""), "test.yaml:1: listen: '[::1]8080': expected HOST:PORT"),
        (withServices("listen: example.com:80"), "listen: 'example.com' is not an IP address or localhost"),
        (withServices("listen: \":8080\""), "listen: the host is empty (use 0.0.0.0 or [::] to listen on every interface)"),
        (withServices("listen: 127.0.0.1"), "test.yaml:1: listen: '127.0.0.1': expected HOST:PORT, e.g. 127.0.0.1:8080"),
        (withServices("listen: \"127.0.0.1:\""), "test.yaml:1: listen: the port is missing"),
        (withServices("listen: 1.2.3.4.5:80"), "listen: '1.2.3.4.5' is not an IP address or localhost"),
        (withServices("listen: 01.2.3.4:80"), "listen: '01.2.3.4' is not an IP address or localhost"),
        (withServices("listen:\n  - 127.0.0.1:80\n  - 127.0.0.1:80"),
         "test.yaml:3: listen[1]: duplicate listen address 127.0.0.1:80 (first at listen[0], line 2)"),
        (withServices("listen: []"), "test.yaml:1: listen: needs at least one address"),
        (withServices("listen: {a: 1}"), "listen: expected a list of addresses or a single one, found a mapping"),
        (withServices("listen: 127.0.0.1:80\nadmin: 127.0.0.1:80"), "test.yaml:2: admin: 127.0.0.1:80 is also a listen address"),
        (withServices("admin: [127.0.0.1:80]"), "test.yaml:1: admin: expected an address, found a list"),

        // Process settings.
        (withServices("workers: 0"), "test.yaml:1: workers: 0 is out of range (1-1,024)"),
        (withServices("workers: two"), "test.yaml:1: workers: expected a whole number, got 'two'"),
        (withServices("workers: -1"), "workers: expected a whole number, got '-1'"),
        (withServices("drain_timeout: 15"), "test.yaml:1: drain_timeout: '15' needs a unit (ms, s, m or h), e.g. 15s"),
        (withServices("drain_timeout: 0s"), "drain_timeout: cannot be 0 (this timeout cannot be switched off)"),
        (withServices("drain_timeout: 25h"), "drain_timeout: 25h is out of range (1ms-24h)"),
        (withServices("drain_timeout: off"), "drain_timeout: expected a duration such as 15s or 250ms, got 'off'"),
        (withServices("batch_window_us: 1001"), "test.yaml:1: batch_window_us: 1,001 is out of range (0-1,000)"),
        (withServices("batch_window_us: 50us"), "test.yaml:1: batch_window_us: expected a whole number, got '50us'"),
        (withServices("access_log: logs/a.jsonl"), "access_log: 'logs/a.jsonl' is not an absolute path"),
        (withServices("access_log: \"\""), "access_log: expected off, stdout or an absolute file path"),

        // Limits and timeouts.
        (withServices("limits:\n  max_head_bytes: 512"), "test.yaml:2: limits.max_head_bytes: 512 is out of range (1 KiB-1 MiB)"),
        (withServices("limits:\n  max_head_bytes: 2MiB"), "limits.max_head_bytes: 2MiB is out of range (1 KiB-1 MiB)"),
        (withServices("limits:\n  max_head_bytes: 64KB"),
         "limits.max_head_bytes: unknown size unit 'KB' in '64KB' (use B, KiB or MiB)"),
        (withServices("limits:\n  max_head_bytes: big"), "limits.max_head_bytes: expected a size such as 64KiB or 65536, got 'big'"),
        (withServices("limits:\n  max_header_count: 0"), "limits.max_header_count: 0 is out of range (1-10,000)"),
        (withServices("limits:\n  max_header_count: 10001"), "limits.max_header_count: 10,001 is out of range (1-10,000)"),
        (withServices("limits:\n  max_chunk_line_bytes: 32"), "limits.max_chunk_line_bytes: 32 is out of range (64 B-64 KiB)"),
        (withServices("limits:\n  max_trailer_bytes: 0"), "limits.max_trailer_bytes: 0 is out of range (1 KiB-1 MiB)"),
        (withServices("limits:\n  max_connections_per_worker: 0"), "limits.max_connections_per_worker: 0 is out of range (1-1,000,000)"),
        (withServices("limits:\n  upstream_max_idle_per_endpoint: 0"), "limits.upstream_max_idle_per_endpoint: 0 is out of range (1-100,000)"),
        (withServices("limits:\n  upstream_max_connections_per_endpoint: 9999999"),
         "limits.upstream_max_connections_per_endpoint: 9,999,999 is out of range (1-1,000,000)"),
        (withServices("limits:\n  upstream_max_idle_per_endpoint: 100\n  upstream_max_connections_per_endpoint: 10"),
         "test.yaml:2: limits: upstream_max_idle_per_endpoint (100) exceeds upstream_max_connections_per_endpoint (10)"),
        (withServices("timeouts:\n  request_head: 10sec"),
         "test.yaml:2: timeouts.request_head: unknown duration unit 'sec' in '10sec' (use ms, s, m or h)"),
        (withServices("timeouts:\n  upstream_connect: 1.5s"), "timeouts.upstream_connect: '1.5s': use a whole number of a smaller unit, e.g. 1500ms"),
        (withServices("timeouts:\n  request_head: 0ms"), "timeouts.request_head: cannot be 0"),
        (withServices("timeouts:\n  upstream_idle: off"), "timeouts.upstream_idle: expected a duration such as 15s or 250ms, got 'off'"),
        (withServices("timeouts:\n  stream_idle: 2d"), "timeouts.stream_idle: unknown duration unit 'd'"),

        // Carriers.
        (withServices("routing:\n  custom_headers: [\"x sandbox\"]"),
         "test.yaml:2: routing.custom_headers[0]: 'x sandbox' is not a valid header name (a space is not allowed"),
        (withServices("routing:\n  custom_headers: [baggage]"), "routing.custom_headers[0]: 'baggage' is already a built-in carrier"),
        (withServices("routing:\n  custom_headers: [X-A, x-a]"), "routing.custom_headers[1]: duplicate 'x-a' (first at routing.custom_headers[0], line 2)"),
        (withServices("routing:\n  key_names: [SD-Key]"), "routing.key_names[0]: 'SD-Key' must be lower case (baggage keys are case-sensitive)"),
        (withServices("routing:\n  key_names: []"), "test.yaml:2: routing: key_names is empty and there are no custom_headers"),
        (withServices("routing:\n  key_names: [\"sd:key\"]"), "routing.key_names[0]: 'sd:key' is not a valid header name (':' is not allowed"),

        // Services and routes.
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk1
                 endpoints: [127.0.0.1:99999]
         """, "test.yaml:6: services[0].routes[0].endpoints[0]: port 99999 is out of range (1-65535)"),
        ("services:\n  - name: web\n    baseline: 127.0.0.1:0", "test.yaml:3: services[0].baseline: port 0 is out of range (1-65535)"),
        ("services:\n  - name: web\n    baseline: bad_host:80", "services[0].baseline: 'bad_host' is not a valid host name"),
        ("services:\n  - name: web\n    baseline: -web:80", "services[0].baseline: '-web' is not a valid host name"),
        ("services:\n  - name: web\n    baseline: 10.0.0.256:80", "services[0].baseline: '10.0.0.256' is not a valid IPv4 address"),
        ("services:\n  - name: web\n    baseline: []", "test.yaml:3: services[0].baseline: needs at least one HOST:PORT endpoint"),
        ("services:\n  - name: web\n    baseline: [10.0.0.1:80, 10.0.0.1:80]",
         "test.yaml:3: services[0].baseline[1]: duplicate endpoint 10.0.0.1:80 (first at services[0].baseline[0], line 3)"),
        ("services:\n  - name: web", "test.yaml:2: services[0]: missing required key 'baseline'"),
        ("services:\n  - baseline: 127.0.0.1:1", "test.yaml:2: services[0]: missing required key 'name'"),
        ("services:\n  - name: my app\n    baseline: 127.0.0.1:1",
         "test.yaml:2: services[0].name: service name 'my app' contains a space (allowed: letters, digits, '.', '_', '-')"),
        ("services:\n  - name: web\n    hosts: [\"web:80\"]\n    baseline: 127.0.0.1:1",
         "test.yaml:3: services[0].hosts[0]: 'web:80' has a port or is IPv6"),
        ("services:\n  - name: web\n    hosts: []\n    baseline: 127.0.0.1:1",
         "test.yaml:3: services[0].hosts: is empty: omit hosts for the default service"),
        ("services:\n  - name: web\n    baseline: 127.0.0.1:1\n    port: 80",
         "test.yaml:4: services[0].port: unknown key (expected one of: name, hosts, baseline, routes, protocol, workload, workload_port)"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:1
           - name: web
             hosts: [b]
             baseline: 127.0.0.1:2
         """, "test.yaml:4: services[1].name: duplicate service name 'web' (first at services[0].name, line 2)"),
        ("""
         services:
           - name: a
             hosts: [Web.Local]
             baseline: 127.0.0.1:1
           - name: b
             hosts: [web.local]
             baseline: 127.0.0.1:2
         """, "test.yaml:6: services[1].hosts[0]: host 'web.local' already selects another service (first at services[0].hosts[0], line 3)"),
        ("""
         services:
           - name: a
             baseline: 127.0.0.1:1
           - name: b
             baseline: 127.0.0.1:2
         """, "test.yaml:4: services[1]: a second service without hosts (services[0], line 2 is already the default service)"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk1
                 endpoints: 127.0.0.1:9002
               - key: rk1
                 endpoints: 127.0.0.1:9003
         """, "test.yaml:7: services[0].routes[1].key: duplicate routing key 'rk1' in this service (first at services[0].routes[0].key, line 5)"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk/../x
                 endpoints: 127.0.0.1:9002
         """, "test.yaml:5: services[0].routes[0].key: routing key 'rk/../x' contains '/'"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: \(String(repeating: "a", count: 129))
                 endpoints: 127.0.0.1:9002
         """, "services[0].routes[0].key: the routing key is 129 bytes long (at most 128)"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk
                 sandbox: "my sandbox"
                 endpoints: 127.0.0.1:9002
         """, "test.yaml:6: services[0].routes[0].sandbox: sandbox name 'my sandbox' contains a space"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk
                 endpoints: 127.0.0.1:9002
                 fallback: maybe
         """, "test.yaml:7: services[0].routes[0].fallback: expected fail or baseline, got 'maybe'"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             protocol: http2
         """, "test.yaml:4: services[0].protocol: expected auto, http1 or h2c, got 'http2'"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk
                 endpoints: 127.0.0.1:9002
                 protocol: grpc
         """, "test.yaml:7: services[0].routes[0].protocol: expected auto, http1 or h2c, got 'grpc'"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk
         """, "test.yaml:5: services[0].routes[0]: missing required key 'endpoints'"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - rk=127.0.0.1:9002
         """, "test.yaml:5: services[0].routes[0]: must be a mapping of keys (key, sandbox, endpoints, fallback, protocol), found a single value"),
        ("""
         services:
           - name: web
             baseline: 127.0.0.1:9001
             routes:
               - key: rk
                 endpoint: 127.0.0.1:9002
         """, "test.yaml:6: services[0].routes[0].endpoint: unknown key (did you mean endpoints?)"),
    ]

    func testEachInvalidDocumentNamesLinePathAndProblem() {
        for (index, testCase) in Self.cases.enumerated() {
            do {
                let configuration = try ConfigLoader.parse(yaml: testCase.yaml, source: "test.yaml")
                XCTFail("case \(index) was accepted: \(configuration)\n\(testCase.yaml)")
            } catch {
                XCTAssertTrue(error.description.contains(testCase.expected),
                              "case \(index):\nexpected: \(testCase.expected)\nactual:   \(error.description)")
            }
        }
    }

    func testANullValueIsReportedOnce() {
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: "routing:\n  key_names:\n" + Self.services, source: "f.yaml")) { error in
            XCTAssertEqual((error as? ConfigError)?.issues.count, 1)
        }
    }

    func testEveryProblemIsReportedInLineOrder() throws {
        let yaml = """
            workers: 0
            limits:
              max_head_bytes: 1
            listen: nowhere:1
            services:
              - name: web
                baseline: 127.0.0.1:99999
            """
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: yaml, source: "f.yaml")) { error in
            guard let error = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)") }
            XCTAssertEqual(error.issues.map(\.line), [1, 3, 4, 7])
            XCTAssertEqual(error.issues.map(\.path),
                           ["workers", "limits.max_head_bytes", "listen", "services[0].baseline"])
            XCTAssertEqual(error.first.description, "f.yaml:1: workers: 0 is out of range (1-1,024)")
            XCTAssertEqual(error.description.split(separator: "\n").count, 4)
        }
    }

    /// Cross-field checks run even when an unrelated key elsewhere is bad.
    func testCrossFieldChecksDoNotDependOnOtherSections() {
        let yaml = """
            workers: 0
            routing:
              key_names: []
            services:
              - name: a
                baseline: 127.0.0.1:1
              - name: a
                hosts: [b]
                baseline: 127.0.0.1:2
            """
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: yaml, source: "f.yaml")) { error in
            XCTAssertEqual((error as? ConfigError)?.issues.map(\.path), ["workers", "routing", "services[1].name"])
        }
    }

    func testReportingStopsAtTheCapAndCountsTheRest() {
        let listeners = (0..<25).map { "  - 127.0.0.1:7000\($0)" }.joined(separator: "\n")
        let yaml = "listen:\n" + listeners + "\nservices:\n  - name: a\n    baseline: 127.0.0.1:1\n"
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: yaml, source: "f.yaml")) { error in
            guard let error = error as? ConfigError else { return XCTFail("not a ConfigError") }
            XCTAssertEqual(error.issues.count, ConfigError.maxReportedIssues)
            XCTAssertEqual(error.omittedCount, 5)
            XCTAssertTrue(error.description.hasSuffix("(5 more problems not shown)"), error.description)
        }
    }

    func testLoadNamesTheFileWhenItCannotBeRead() {
        let directory = FileManager.default.temporaryDirectory.path
        let cases: [(path: String, expected: String)] = [
            ("/nonexistent/devmesh.yaml", "/nonexistent/devmesh.yaml: no such file"),
            (directory, "\(directory): is a directory, not a configuration file"),
        ]
        for testCase in cases {
            XCTAssertThrowsError(try ConfigLoader.load(path: testCase.path)) { error in
                XCTAssertEqual((error as? ConfigError)?.description, testCase.expected)
            }
        }
    }

    func testLoadReportsTheFilePathInMessages() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("devmesh-config-test-\(getpid()).yaml").path
        try "services:\n  - name: a\n    baseline: 127.0.0.1:0\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try ConfigLoader.load(path: path)) { error in
            XCTAssertEqual((error as? ConfigError)?.description,
                           "\(path):3: services[0].baseline: port 0 is out of range (1-65535)")
        }
    }
}

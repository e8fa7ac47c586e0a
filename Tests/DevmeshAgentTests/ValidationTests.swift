import DevmeshAgent
import DevmeshRoutesAPI
import XCTest

final class ValidationTests: XCTestCase {
    func testSyntaxTables() {
        let labels: [(String, Bool)] = [("a", true), ("feature-x", true), ("a1-b2", true), (String(repeating: "a", count: 63), true),
                                        ("", false), ("-a", false), ("a-", false), ("A", false), ("a_b", false), ("a.b", false),
                                        (String(repeating: "a", count: 64), false), ("é", false)]
        for (text, valid) in labels { XCTAssertEqual(Syntax.dnsLabelProblem(text) == nil, valid, "label \(text)") }

        let subdomains: [(String, Bool)] = [("route", true), ("route.v2", true), ("a..b", false), (".a", false), ("a.", false),
                                            ("Route", false), (String(repeating: "a.", count: 126) + "a", true),
                                            (String(repeating: "a.", count: 127) + "a", false)]
        for (text, valid) in subdomains { XCTAssertEqual(Syntax.dnsSubdomainProblem(text) == nil, valid, "subdomain \(text)") }

        let keys: [(String, Bool)] = [("4835rlwxwbwyl", true), ("Key.With_All-Chars9", true), ("", false), ("a+b", false),
                                      ("a b", false), ("a=b", false), (String(repeating: "k", count: 128), true),
                                      (String(repeating: "k", count: 129), false)]
        for (text, valid) in keys { XCTAssertEqual(Syntax.routingKeyProblem(text) == nil, valid, "key \(text)") }

        let hosts: [(String, Bool)] = [("route-x.hotrod.svc", true), ("route-x.hotrod.svc.cluster.local.", true),
                                       ("localhost", true), ("10.0.0.1", true), ("::1", true), ("fd00::12:1", true),
                                       ("", false), ("a_b.svc", false), ("-a.svc", false), ("a-.svc", false), ("a..b", false),
                                       ("999.1.1.1", false), ("1.2.3", false), ("[::1]", false), ("::g", false),
                                       ("host:80", false), (String(repeating: "a", count: 64) + ".svc", false)]
        for (text, valid) in hosts { XCTAssertEqual(Syntax.hostProblem(text) == nil, valid, "host \(text)") }

        XCTAssertNil(Syntax.workloadKindProblem("Deployment"))
        XCTAssertNil(Syntax.workloadKindProblem("ArgoRollout"))
        XCTAssertEqual(Syntax.workloadKindProblem("deployment"),
                       "unknown workload kind \"deployment\"; did you mean Deployment? (kinds are case-sensitive)")
        XCTAssertEqual(Syntax.workloadKindProblem("Pod"), "unknown workload kind \"Pod\"; use one of Deployment, ArgoRollout")
        for (port, valid) in [(UInt32(0), false), (1, true), (65535, true), (65536, false)] {
            XCTAssertEqual(Syntax.portProblem(port) == nil, valid, "port \(port)")
        }
        let labelKeys: [(String, Bool)] = [("team", true), ("app.kubernetes.io/name", true), ("a_b.c-d", true), ("", false),
                                           ("-x", false), ("bad prefix/x", false), ("x/", false)]
        for (text, valid) in labelKeys { XCTAssertEqual(Syntax.labelKeyProblem(text) == nil, valid, "label key \(text)") }
        XCTAssertNil(Syntax.labelValueProblem("", allowStar: false))
        XCTAssertNotNil(Syntax.labelValueProblem("pay*", allowStar: false))
        XCTAssertNil(Syntax.labelValueProblem("pay*", allowStar: true))
        XCTAssertNil(Syntax.labelValueProblem("*", allowStar: true))
    }

    /// Each bad spec is refused with the JSON path of the value to fix.
    func testSandboxSpecsAreRefusedAtTheRightField() {
        let good = Fixture.fork("route", [(8080, ["a.svc:8080"])])
        let table: [(String, SandboxSpec, String)] = [
            ("bad name", Fixture.sandbox("Feature", forks: [good]), "name"),
            ("empty key", Fixture.sandbox("s", key: "", forks: [good]), "routingKey"),
            ("key with a space", Fixture.sandbox("s", key: "a b", forks: [good]), "routingKey"),
            ("no forks", Fixture.sandbox("s", forks: []), "forks"),
            ("bad kind", Fixture.sandbox("s", forks: [Fork(forkOf: BaselineWorkload(kind: "Pod", namespace: "n", name: "w"),
                                                           ports: good.ports)]), "forks[0].forkOf.kind"),
            ("bad namespace", Fixture.sandbox("s", forks: [Fork(forkOf: Fixture.workload("w", namespace: "N_S"))]),
             "forks[0].forkOf.namespace"),
            ("bad workload name", Fixture.sandbox("s", forks: [Fork(forkOf: Fixture.workload("W"))]), "forks[0].forkOf.name"),
            ("port 0", Fixture.sandbox("s", forks: [Fixture.fork("w", [(0, ["a.svc:1"])])]), "forks[0].ports[0].workloadPort"),
            ("port too big", Fixture.sandbox("s", forks: [Fixture.fork("w", [(70000, ["a.svc:1"])])]),
             "forks[0].ports[0].workloadPort"),
            ("port twice", Fixture.sandbox("s", forks: [Fixture.fork("w", [(80, ["a.svc:1"]), (80, ["b.svc:1"])])]),
             "forks[0].ports[1].workloadPort"),
            ("no destination", Fixture.sandbox("s", forks: [Fixture.fork("w", [(80, [])])]), "forks[0].ports[0].destinations"),
            ("bad host", Fixture.sandbox("s", forks: [Fixture.fork("w", [(80, ["a_b:1"])])]),
             "forks[0].ports[0].destinations[0].host"),
            ("destination port 0", Fixture.sandbox("s", forks: [Fixture.fork("w", [(80, ["a.svc:0"])])]),
             "forks[0].ports[0].destinations[0].port"),
            ("same destination twice", Fixture.sandbox("s", forks: [Fixture.fork("w", [(80, ["a.svc:1", "a.svc:1"])])]),
             "forks[0].ports[0].destinations[1]"),
            ("same workload forked twice", Fixture.sandbox("s", forks: [good, good]), "forks[1].forkOf"),
            ("bad label", Fixture.sandbox("s", labels: ["team": "a b"], forks: [good]), "labels.team"),
            ("glob in a sandbox label", Fixture.sandbox("s", labels: ["team": "pay*"], forks: [good]), "labels.team"),
        ]
        for (name, spec, field) in table {
            XCTAssertThrowsError(try SpecValidation.validate(spec, limits: AgentLimits()), name) { error in
                let error = error as! AgentError
                XCTAssertEqual(error.code, .invalid, name)
                XCTAssertEqual(error.field, field, "\(name): \(error)")
                XCTAssertEqual(error.status, 400)
            }
        }
        XCTAssertNoThrow(try SpecValidation.validate(Fixture.sandbox("s", key: "4835rlwxwbwyl", labels: ["team": "pay"],
                                                                     forks: [good, Fixture.fork("other")]),
                                                     limits: AgentLimits()))
    }

    func testLimitsAreEnforced() {
        var limits = AgentLimits()
        limits.maxForksPerSandbox = 2
        limits.maxDestinationsPerPort = 1
        let three = Fixture.sandbox("s", forks: [Fixture.fork("a"), Fixture.fork("b"), Fixture.fork("c")])
        XCTAssertThrowsError(try SpecValidation.validate(three, limits: limits))
        let twoDestinations = Fixture.sandbox("s", forks: [Fixture.fork("a", [(80, ["a.svc:1", "b.svc:1"])])])
        XCTAssertThrowsError(try SpecValidation.validate(twoDestinations, limits: limits))
    }

    func testRouteGroupSpecs() {
        let table: [(RouteGroupSpec, String?)] = [
            (RouteGroupSpec(name: "g", match: RouteGroupMatch(sandboxes: ["a"])), nil),
            (RouteGroupSpec(name: "g", match: RouteGroupMatch(labels: ["team": "pay*"])), nil),
            (RouteGroupSpec(name: "G", match: RouteGroupMatch(sandboxes: ["a"])), "name"),
            (RouteGroupSpec(name: "g", match: RouteGroupMatch()), "match"),
            (RouteGroupSpec(name: "g", match: RouteGroupMatch(sandboxes: ["A"])), "match.sandboxes[0]"),
            (RouteGroupSpec(name: "g", match: RouteGroupMatch(labels: ["-x": "1"])), "match.labels.-x"),
            (RouteGroupSpec(name: "g", routingKey: "a/b", match: RouteGroupMatch(sandboxes: ["a"])), "routingKey"),
        ]
        for (spec, field) in table {
            do {
                try SpecValidation.validate(spec, limits: AgentLimits())
                XCTAssertNil(field, "\(spec) should be refused")
            } catch {
                XCTAssertEqual(error.field, field, "\(spec): \(error)")
            }
        }
    }

    func testGeneratedKeysHaveSignadotsShapeAndAvoidKeysInUse() {
        var generator = RoutingKeyGenerator(random: SeededGenerator(seed: 7))
        var seen = Set<String>()
        for _ in 0..<2000 {
            let key = generator.makeKey { _ in false }
            XCTAssertEqual(key.count, 13)
            XCTAssertTrue(key.utf8.allSatisfy { (48...57).contains($0) || (97...122).contains($0) }, key)
            XCTAssertNil(Syntax.routingKeyProblem(key))
            seen.insert(key)
        }
        XCTAssertEqual(seen.count, 2000, "67 bits of randomness: no repeats in 2000 draws")
        // Scripted draws (1 << 58 picks '0' without a rejection redraw): the first key drawn is
        // taken, so the generator must draw again and return the second.
        var scripted = RoutingKeyGenerator(random: ScriptedGenerator(values: Array(repeating: 1 << 58, count: 13)
                                                                     + Array(repeating: UInt64.max / 2, count: 13)))
        let key = scripted.makeKey { $0 == "0000000000000" }
        XCTAssertEqual(key, String(repeating: "h", count: 13))
    }
}

import DevmeshAgent
import DevmeshRoutesAPI
import XCTest

final class RuleDerivationTests: XCTestCase {
    private func state(_ sandboxes: [Sandbox], _ groups: [RouteGroup] = []) -> AgentState {
        var state = AgentState()
        for sandbox in sandboxes { state.sandboxes[sandbox.name] = sandbox }
        for group in groups { state.routeGroups[group.name] = group }
        return state
    }

    private func sandbox(_ name: String, key: String, revision: UInt64, labels: [String: String] = [:],
                         forks: [Fork]) -> Sandbox {
        Sandbox(name: name, routingKey: key, labels: labels, forks: forks, revision: revision, createdAt: 0)
    }

    func testEachForkGivesOneRuleWithSortedMappings() {
        let fork = Fixture.fork("route", [(9090, ["b.svc:9090"]), (8083, ["a.svc:8083", "a2.svc:8083"])])
        let rules = RuleDerivation.rules(for: state([sandbox("s", key: "k", revision: 1, forks: [fork, Fixture.fork("driver")])]))
        XCTAssertEqual(rules.count, 2)
        let rule = rules[RuleIdentity(routingKey: "k", baseline: Fixture.workload("route"))]
        XCTAssertEqual(rule?.destinationSandbox?.name, "s")
        XCTAssertEqual(rule?.mappings.map(\.workloadPort), [8083, 9090])
        XCTAssertEqual(rule?.mappings.first?.destinations.map(\.host), ["a.svc", "a2.svc"], "destination order is kept")
    }

    /// Which sandboxes a group matches, and who wins a workload both fork.
    func testGroupMatchingAndConflicts() {
        let older = sandbox("older", key: "k1", revision: 1, labels: ["team": "payments"], forks: [Fixture.fork("route")])
        let newer = sandbox("newer", key: "k2", revision: 5, labels: ["team": "pay"],
                            forks: [Fixture.fork("route"), Fixture.fork("driver")])
        let other = sandbox("other", key: "k3", revision: 2, labels: ["team": "search"], forks: [Fixture.fork("front")])
        let table: [(String, RouteGroupMatch, [String: String], [String])] = [
            ("by name", RouteGroupMatch(sandboxes: ["newer"]), ["route": "newer", "driver": "newer"], ["newer"]),
            ("by glob label: older wins route", RouteGroupMatch(labels: ["team": "pay*"]),
             ["route": "older", "driver": "newer"], ["older", "newer"]),
            ("exact label", RouteGroupMatch(labels: ["team": "pay"]), ["route": "newer", "driver": "newer"], ["newer"]),
            ("name or labels", RouteGroupMatch(sandboxes: ["other"], labels: ["team": "payments"]),
             ["route": "older", "front": "other"], ["older", "other"]),
            ("all labels must match", RouteGroupMatch(labels: ["team": "pay*", "tier": "*"]), [:], []),
            ("unknown name", RouteGroupMatch(sandboxes: ["ghost"]), [:], []),
        ]
        for (name, match, expected, matched) in table {
            let group = RouteGroup(name: "g", routingKey: "gk", match: match, revision: 9, createdAt: 0)
            let snapshot = state([older, newer, other], [group])
            let rules = RuleDerivation.rules(for: snapshot).values.filter { $0.routingKey == "gk" }
            var got: [String: String] = [:]
            for rule in rules { got[rule.baseline!.name] = rule.destinationSandbox!.name }
            XCTAssertEqual(got, expected, name)
            XCTAssertEqual(RuleDerivation.resolution(of: group, in: snapshot).matchedSandboxes, matched, name)
        }
        let group = RouteGroup(name: "g", routingKey: "gk", match: RouteGroupMatch(labels: ["team": "pay*"]),
                               revision: 9, createdAt: 0)
        let resolution = RuleDerivation.resolution(of: group, in: state([older, newer, other], [group]))
        XCTAssertEqual(resolution.workloads.map(\.routedTo), ["older", "newer"])
        XCTAssertEqual(resolution.workloads.map(\.shadowed), [["newer"], []])
    }

    func testLabelGlobs() {
        let table: [(String, String, Bool)] = [
            ("pay*", "payments", true), ("pay*", "pay", true), ("pay*", "xpay", false), ("*", "", true), ("*ments", "payments", true),
            ("p*y*s", "payments", true), ("p*y*z", "payments", false), ("a", "a", true), ("a", "ab", false), ("", "", true),
            ("**", "abc", true), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false),
        ]
        for (pattern, value, expected) in table {
            let sandbox = Sandbox(name: "s", routingKey: "k", labels: ["l": value], forks: [], revision: 1, createdAt: 0)
            XCTAssertEqual(RouteGroupMatch(labels: ["l": pattern]).matches(sandbox), expected, "\(pattern) ~ \(value)")
        }
    }

    /// A sandbox write derives again only the rules it can touch
    /// (`RuleDerivation.rules(afterChangeOf:to:in:)`), so after any sequence of writes the index
    /// must hold exactly what deriving every rule gives, and a watch that applied every op must
    /// agree with it. Seeded random puts (new keys, labels, forks, destinations) and deletes of
    /// sandboxes, under route groups that match by name and by label glob (with conflicts), and
    /// now and then a route group replaced (the full derivation path).
    func testIncrementalUpdatesEqualAFullDerivation() throws {
        let service = try Fixture.service(self, watchBuffer: 1024)
        var random = SeededGenerator(seed: 7)
        let names = (0..<8).map { "s\($0)" }
        let workloads = ["route", "driver", "front"]
        let teams = ["pay", "payments", "search", "other"]
        for (name, match) in [("by-label", RouteGroupMatch(labels: ["team": "pay*"])),
                              ("by-name", RouteGroupMatch(sandboxes: ["s1", "s3", "s5"])),
                              ("either", RouteGroupMatch(sandboxes: ["s2"], labels: ["team": "search"]))] {
            _ = try service.createRouteGroup(RouteGroupSpec(name: name, match: match))
        }
        let watch = service.index.watch(WorkloadRoutingRulesRequest())
        var seen: [RuleIdentity: WorkloadRoutingRule] = [:]
        for step in 0..<400 {
            let name = names.randomElement(using: &random)!
            if service.state.sandboxes[name] != nil, Int.random(in: 0..<3, using: &random) == 0 {
                try service.deleteSandbox(named: name)
            } else {
                let forks = workloads.filter { _ in Bool.random(using: &random) }
                let labels = Bool.random(using: &random) ? ["team": teams.randomElement(using: &random)!] : [:]
                let key = Int.random(in: 0..<4, using: &random) == 0 ? "k-\(name)-\(step)" : nil
                let spec = Fixture.sandbox(name, key: key, labels: labels, forks: (forks.isEmpty ? ["route"] : forks).map {
                    Fixture.fork($0, [(8080, ["d\(Int.random(in: 0..<3, using: &random)).svc:8080"])])
                })
                _ = try service.putSandbox(spec)
            }
            if step % 97 == 96 {
                let pattern = ["pay*", "*", "search", "nothing"].randomElement(using: &random)!
                _ = try service.putRouteGroup(RouteGroupSpec(name: "by-label", match: RouteGroupMatch(labels: ["team": pattern])))
            }
            XCTAssertEqual(service.index.rules, RuleDerivation.rules(for: service.state), "after step \(step)")
            while let op = watch.next() {
                guard let rule = op.route else { continue }
                switch op.op {
                case .add, .replace: seen[rule.identity] = rule
                case .remove: seen[rule.identity] = nil
                default: break
                }
            }
            XCTAssertEqual(seen, service.index.rules, "the watch's view after step \(step)")
        }
        XCTAssertGreaterThan(service.index.rules.count, 5, "the sequence should leave rules behind")
    }
}

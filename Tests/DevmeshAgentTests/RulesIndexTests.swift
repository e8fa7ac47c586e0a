import DevmeshAgent
import DevmeshRoutesAPI
import XCTest

/// The watch contract (routes-api.md §3), driven through the service as a client would: a
/// sequence of store changes, and the exact ops each watcher filter must see.
final class RulesIndexTests: XCTestCase {
    private let route = Fixture.workload("route")
    private let driver = Fixture.workload("driver")

    func testInitialSnapshotIsAddsThenOneSynced() throws {
        let service = try Fixture.service(self)
        _ = try service.createSandbox(Fixture.sandbox("b", key: "kb", forks: [Fixture.fork("route")]))
        _ = try service.createSandbox(Fixture.sandbox("a", key: "ka", forks: [Fixture.fork("route"), Fixture.fork("driver")]))
        let all = service.index.watch(WorkloadRoutingRulesRequest())
        XCTAssertEqual(all.drainDescriptions(), [
            "ADD ka Deployment/hotrod/driver -> a", "ADD ka Deployment/hotrod/route -> a",
            "ADD kb Deployment/hotrod/route -> b", "SYNCED",
        ])
        let routeOnly = service.index.watch(WorkloadRoutingRulesRequest(baselineWorkload: route))
        XCTAssertEqual(routeOnly.drainDescriptions(), ["ADD ka Deployment/hotrod/route -> a",
                                                       "ADD kb Deployment/hotrod/route -> b", "SYNCED"])
        let none = service.index.watch(WorkloadRoutingRulesRequest(routingKey: "nope"))
        XCTAssertEqual(none.drainDescriptions(), ["SYNCED"])
    }

    /// One scenario, several filters: every step lists what each watcher must receive.
    func testDeltasPerFilter() throws {
        let service = try Fixture.service(self)
        let filters: [(String, WorkloadRoutingRulesRequest)] = [
            ("all", WorkloadRoutingRulesRequest()),
            ("route", WorkloadRoutingRulesRequest(baselineWorkload: route)),
            ("driver in hotrod", WorkloadRoutingRulesRequest(baselineWorkload: BaselineWorkload(namespace: "hotrod", name: "driver"))),
            ("key gk", WorkloadRoutingRulesRequest(routingKey: "gk")),
            ("to sandbox b", WorkloadRoutingRulesRequest(destinationSandbox: DestinationSandbox(name: "b"))),
        ]
        let watches = filters.map { service.index.watch($0.1) }
        for watch in watches { XCTAssertEqual(watch.drainDescriptions(), ["SYNCED"]) }

        typealias Step = (String, () throws -> Void, [String: [String]])
        let steps: [Step] = [
            ("create a (route)", { _ = try service.createSandbox(Fixture.sandbox("a", key: "ka", forks: [Fixture.fork("route")])) },
             ["all": ["ADD ka Deployment/hotrod/route -> a"], "route": ["ADD ka Deployment/hotrod/route -> a"]]),
            ("create b (route, driver)", {
                _ = try service.createSandbox(Fixture.sandbox("b", key: "kb", forks: [Fixture.fork("route"), Fixture.fork("driver")]))
            }, ["all": ["ADD kb Deployment/hotrod/driver -> b", "ADD kb Deployment/hotrod/route -> b"],
                "route": ["ADD kb Deployment/hotrod/route -> b"], "driver in hotrod": ["ADD kb Deployment/hotrod/driver -> b"],
                "to sandbox b": ["ADD kb Deployment/hotrod/driver -> b", "ADD kb Deployment/hotrod/route -> b"]]),
            ("group gk over a and b: a wins route", {
                _ = try service.createRouteGroup(RouteGroupSpec(name: "g", routingKey: "gk",
                                                                match: RouteGroupMatch(sandboxes: ["a", "b"])))
            }, ["all": ["ADD gk Deployment/hotrod/driver -> b", "ADD gk Deployment/hotrod/route -> a"],
                "route": ["ADD gk Deployment/hotrod/route -> a"], "driver in hotrod": ["ADD gk Deployment/hotrod/driver -> b"],
                "key gk": ["ADD gk Deployment/hotrod/driver -> b", "ADD gk Deployment/hotrod/route -> a"],
                "to sandbox b": ["ADD gk Deployment/hotrod/driver -> b"]]),
            ("replace a's ports: REPLACE for both keys", {
                _ = try service.putSandbox(Fixture.sandbox("a", forks: [Fixture.fork("route", [(8080, ["new.svc:8080"])])]))
            }, ["all": ["REPLACE gk Deployment/hotrod/route -> a", "REPLACE ka Deployment/hotrod/route -> a"],
                "route": ["REPLACE gk Deployment/hotrod/route -> a", "REPLACE ka Deployment/hotrod/route -> a"],
                "key gk": ["REPLACE gk Deployment/hotrod/route -> a"]]),
            ("replace with the same spec: nothing", {
                _ = try service.putSandbox(Fixture.sandbox("a", forks: [Fixture.fork("route", [(8080, ["new.svc:8080"])])]))
            }, [:]),
            ("delete a: gk/route moves to b", { try service.deleteSandbox(named: "a") },
             ["all": ["REPLACE gk Deployment/hotrod/route -> b", "REMOVE ka Deployment/hotrod/route -> a"],
              "route": ["REPLACE gk Deployment/hotrod/route -> b", "REMOVE ka Deployment/hotrod/route -> a"],
              "key gk": ["REPLACE gk Deployment/hotrod/route -> b"],
              // The rule's identity is unchanged, but only now does it enter this filter: an ADD.
              "to sandbox b": ["ADD gk Deployment/hotrod/route -> b"]]),
            ("delete the group", { try service.deleteRouteGroup(named: "g") },
             ["all": ["REMOVE gk Deployment/hotrod/driver -> b", "REMOVE gk Deployment/hotrod/route -> b"],
              "route": ["REMOVE gk Deployment/hotrod/route -> b"], "driver in hotrod": ["REMOVE gk Deployment/hotrod/driver -> b"],
              "key gk": ["REMOVE gk Deployment/hotrod/driver -> b", "REMOVE gk Deployment/hotrod/route -> b"],
              "to sandbox b": ["REMOVE gk Deployment/hotrod/driver -> b", "REMOVE gk Deployment/hotrod/route -> b"]]),
            ("a refused create: nothing", {
                XCTAssertThrowsError(try service.createSandbox(Fixture.sandbox("b", forks: [Fixture.fork("x")])))
            }, [:]),
        ]
        for (name, action, expected) in steps {
            try action()
            for ((filterName, _), watch) in zip(filters, watches) {
                XCTAssertEqual(watch.drainDescriptions(), expected[filterName] ?? [], "\(name) / \(filterName)")
            }
        }
        // A REMOVE carries the whole rule, not only its identity.
        let probe = service.index.watch(WorkloadRoutingRulesRequest(routingKey: "kb"))
        _ = probe.drainDescriptions()
        try service.deleteSandbox(named: "b")
        let removed = probe.next(upTo: 10)
        XCTAssertEqual(removed.map(\.op), [.remove, .remove])
        XCTAssertEqual(removed.first?.route?.mappings.first?.destinations.first?.host, "dest.svc")
    }

    /// A watcher that stops reading is cut off at its bound; the others keep every op in order.
    func testSlowWatcherIsDisconnectedAndOthersAreUnaffected() throws {
        let service = try Fixture.service(self, watchBuffer: 5)
        var disconnects: [RuleWatch.DisconnectReason] = []
        var readableCalls = 0
        let slow = service.index.watch(WorkloadRoutingRulesRequest(), onDisconnect: { disconnects.append($0) })
        let fast = service.index.watch(WorkloadRoutingRulesRequest(), onReadable: { readableCalls += 1 })
        XCTAssertEqual(slow.maxPending, 1 + 5, "the initial SYNCED plus the buffer")
        var fastSeen = fast.drainDescriptions()
        for index in 0..<10 {
            _ = try service.createSandbox(Fixture.sandbox("s\(index)", key: "k\(index)", forks: [Fixture.fork("route")]))
            fastSeen += fast.drainDescriptions()
            if index < 5 { XCTAssertEqual(slow.state, .streaming, "within the bound after \(index + 1) changes") }
        }
        XCTAssertEqual(slow.state, .disconnected(.overflow))
        XCTAssertEqual(disconnects, [.overflow])
        XCTAssertNil(slow.next(), "a disconnected watch yields nothing more")
        XCTAssertEqual(service.index.watchCount, 1)
        XCTAssertEqual(service.index.overflowDisconnects, 1)
        XCTAssertEqual(fastSeen, ["SYNCED"] + (0..<10).map { "ADD k\($0) Deployment/hotrod/route -> s\($0)" })
        XCTAssertEqual(readableCalls, 10, "one wake-up per change that found the queue empty")
        // Re-watching is the resync: the current set as ADDs, then SYNCED.
        let again = service.index.watch(WorkloadRoutingRulesRequest(routingKey: "k3"))
        XCTAssertEqual(again.drainDescriptions(), ["ADD k3 Deployment/hotrod/route -> s3", "SYNCED"])
    }

    func testInitialSnapshotLargerThanTheBufferStillFits() throws {
        let service = try Fixture.service(self, watchBuffer: 2)
        for index in 0..<10 {
            _ = try service.createSandbox(Fixture.sandbox("s\(index)", forks: [Fixture.fork("route")]))
        }
        let watch = service.index.watch(WorkloadRoutingRulesRequest())
        XCTAssertEqual(watch.pendingCount, 11)
        _ = try service.createSandbox(Fixture.sandbox("late", forks: [Fixture.fork("route")]))
        XCTAssertEqual(watch.state, .streaming)
        XCTAssertEqual(watch.drainDescriptions().count, 12)
    }

    func testCancelledWatchIsForgotten() throws {
        let service = try Fixture.service(self)
        var disconnects = 0
        let watch = service.index.watch(WorkloadRoutingRulesRequest(), onDisconnect: { _ in disconnects += 1 })
        watch.cancel()
        XCTAssertEqual(service.index.watchCount, 0)
        XCTAssertEqual(watch.state, .disconnected(.cancelled))
        _ = try service.createSandbox(Fixture.sandbox("s", forks: [Fixture.fork("route")]))
        XCTAssertNil(watch.next())
        XCTAssertEqual(disconnects, 0, "onDisconnect is for the index's own decisions")
    }

    /// A consumer that drains or cancels from inside its wake-up callback, in the middle of the
    /// index's fan-out: the draining one still gets every op once, in order; the cancelled one
    /// gets nothing more; the others are unaffected.
    func testConsumersMayDrainOrCancelFromTheirCallback() throws {
        let service = try Fixture.service(self)
        var drained: [String] = []
        var drainer: RuleWatch?
        drainer = service.index.watch(WorkloadRoutingRulesRequest(), onReadable: {
            while let op = drainer?.next() { drained.append(describe(op)) }
        })
        var canceller: RuleWatch?
        canceller = service.index.watch(WorkloadRoutingRulesRequest(), onReadable: { canceller?.cancel() })
        let bystander = service.index.watch(WorkloadRoutingRulesRequest())
        for watch in [drainer!, canceller!, bystander] { XCTAssertEqual(watch.drainDescriptions(), ["SYNCED"]) }
        _ = try service.createSandbox(Fixture.sandbox("a", key: "ka", forks: [Fixture.fork("route"), Fixture.fork("driver")]))
        XCTAssertEqual(drained, ["ADD ka Deployment/hotrod/driver -> a", "ADD ka Deployment/hotrod/route -> a"])
        XCTAssertEqual(canceller!.state, .disconnected(.cancelled))
        XCTAssertEqual(canceller!.pendingCount, 0)
        XCTAssertEqual(bystander.drainDescriptions().count, 2)
        XCTAssertEqual(service.index.watchCount, 2)
    }

    /// Hundreds of watchers (one per proxy): each gets its ops; the cost of a change stays small.
    func testFanOutToManyWatchers() throws {
        let service = try Fixture.service(self, watchBuffer: 1000)
        let workloads = (0..<50).map { "w\($0)" }
        let watches = (0..<500).map { index in
            service.index.watch(WorkloadRoutingRulesRequest(baselineWorkload: Fixture.workload(workloads[index % 50])))
        }
        for watch in watches { XCTAssertEqual(watch.drainDescriptions(), ["SYNCED"]) }
        let start = ContinuousClock.now
        for index in 0..<100 {
            _ = try service.createSandbox(Fixture.sandbox("s\(index)", key: "k\(index)",
                                                          forks: [Fixture.fork(workloads[index % 50])]))
        }
        let elapsed = ContinuousClock.now - start
        for (index, watch) in watches.enumerated() {
            let ops = watch.drainDescriptions()
            XCTAssertEqual(ops.count, 2, "watcher \(index)")
            XCTAssertTrue(ops.allSatisfy { $0.hasPrefix("ADD ") && $0.contains("/\(workloads[index % 50]) ") })
        }
        print("fan-out: 100 creates (fsync each) to 500 watchers in \(elapsed)")
    }
}

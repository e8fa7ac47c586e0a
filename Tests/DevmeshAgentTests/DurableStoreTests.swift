@testable import DevmeshAgent
import DevmeshRoutesAPI
import Glibc
import XCTest

/// Durability: what was acknowledged survives any crash point, and nothing else appears.
final class DurableStoreTests: XCTestCase {
    private func sandbox(_ name: String, revision: UInt64) -> Sandbox {
        Sandbox(name: name, routingKey: "key-\(name)", labels: ["n": name],
                forks: [Fixture.fork("route", [(8080, ["\(name).svc:8080"])])], revision: revision, createdAt: 1_700_000_000)
    }

    /// A mixed sequence of mutations.
    private var mutations: [StoreMutation] {
        [.putSandbox(sandbox("a", revision: 1)), .putSandbox(sandbox("b", revision: 2)),
         .putRouteGroup(RouteGroup(name: "g", routingKey: "gk", match: RouteGroupMatch(sandboxes: ["a"], labels: ["n": "b*"]),
                                   revision: 3, createdAt: 5)),
         .deleteSandbox("a"), .putSandbox(sandbox("c", revision: 5)), .deleteRouteGroup("g"), .putSandbox(sandbox("b", revision: 2))]
    }

    func testCommittedStateSurvivesReopen() throws {
        let directory = Fixture.temporaryDirectory(self)
        var expected = AgentState()
        do {
            let store = try DurableStore(directory: directory)
            for mutation in mutations {
                try store.commit(mutation)
                expected.apply(mutation)
            }
            XCTAssertEqual(store.state, expected)
        }
        let reopened = try DurableStore(directory: directory)
        XCTAssertEqual(reopened.state, expected)
        XCTAssertEqual(reopened.recovery.recordsReplayed, mutations.count)
        XCTAssertEqual(reopened.recovery.bytesDiscarded, 0)
    }

    /// Simulates kill -9 (or power loss) at every byte of the log: the file is cut at each offset,
    /// reopened, and must hold exactly the mutations whose records are whole. Appending after the
    /// repair must work and survive another reopen.
    func testLogCutAtEveryByteRecoversTheAcknowledgedPrefix() throws {
        let directory = Fixture.temporaryDirectory(self)
        var ends: [Int] = []
        var states: [AgentState] = [AgentState()]
        // Every kind of record, kept short: each cut that tears a record costs a real fsync.
        let mutations = Array(self.mutations[0..<4]) + [self.mutations[5]]
        do {
            let store = try DurableStore(directory: directory)
            for mutation in mutations {
                try store.commit(mutation)
                ends.append(store.logBytes)
                states.append(store.state)
            }
        }
        let log = Fixture.readFile("\(directory)/wal.log")
        XCTAssertEqual(log.count, ends.last)
        let scratch = Fixture.temporaryDirectory(self)
        for cut in 0...log.count {
            let trial = "\(scratch)/cut-\(cut)"
            XCTAssertEqual(mkdir(trial, 0o700), 0)
            Fixture.writeFile("\(trial)/wal.log", Array(log[0..<cut]))
            let whole = ends.filter { $0 <= cut }.count
            let store = try DurableStore(directory: trial)
            XCTAssertEqual(store.state, states[whole], "cut at \(cut)")
            XCTAssertEqual(store.recovery.bytesDiscarded, cut - (whole == 0 ? 0 : ends[whole - 1]), "cut at \(cut)")
            // The torn tail is gone, so a new record lands right after the last whole one. (Checked
            // around every record boundary and at every 16th byte: each check costs an fsync.)
            let nearBoundary = ends.contains { abs($0 - cut) <= 1 } || cut <= 1
            guard nearBoundary || cut % 16 == 0 else { continue }
            try store.commit(.putSandbox(sandbox("after", revision: 99)))
            var expected = states[whole]
            expected.apply(.putSandbox(sandbox("after", revision: 99)))
            let again = try reopen(store, trial)
            XCTAssertEqual(again.state, expected, "append after cut at \(cut)")
        }
    }

    /// A damaged byte inside a record (bit rot, a bad sector): the record fails its checksum and
    /// recovery stops before it rather than applying garbage.
    func testDamagedRecordStopsReplayAtTheLastGoodRecord() throws {
        let directory = Fixture.temporaryDirectory(self)
        var ends: [Int] = []
        var states: [AgentState] = [AgentState()]
        do {
            let store = try DurableStore(directory: directory)
            for mutation in mutations {
                try store.commit(mutation)
                ends.append(store.logBytes)
                states.append(store.state)
            }
        }
        let log = Fixture.readFile("\(directory)/wal.log")
        for (index, end) in ends.enumerated() {
            let start = index == 0 ? 0 : ends[index - 1]
            for offset in [start, start + 3, start + 4, start + 9, (start + end) / 2, end - 1] {
                var damaged = log
                damaged[offset] ^= 0x20
                let trial = Fixture.temporaryDirectory(self)
                Fixture.writeFile("\(trial)/wal.log", damaged)
                let store = try DurableStore(directory: trial)
                XCTAssertEqual(store.state, states[index], "damage at \(offset) in record \(index)")
            }
        }
    }

    func testCompactionKeepsTheStateAndEmptiesTheLog() throws {
        let directory = Fixture.temporaryDirectory(self)
        let store = try DurableStore(directory: directory, compactionThreshold: 600)
        var expected = AgentState()
        for round in 0..<5 {
            for mutation in mutations {
                try store.commit(mutation)
                expected.apply(mutation)
            }
            XCTAssertLessThan(store.logBytes, 600 + 400, "round \(round): compaction keeps the log short")
        }
        XCTAssertTrue(FileIO.exists("\(directory)/snapshot.json"))
        let reopened = try reopen(store, directory)
        XCTAssertEqual(reopened.state, expected)
        XCTAssertGreaterThan(reopened.recovery.snapshotSequence, 0)
    }

    /// A crash after the new snapshot was renamed into place but before the log was emptied: the
    /// log's records are already in the snapshot, and replay must skip them, not apply them twice.
    func testCrashBetweenSnapshotAndLogTruncationSkipsOldRecords() throws {
        let directory = Fixture.temporaryDirectory(self)
        var expected = AgentState()
        let store = try DurableStore(directory: directory)
        for mutation in mutations {
            try store.commit(mutation)
            expected.apply(mutation)
        }
        let logBefore = Fixture.readFile("\(directory)/wal.log")
        try store.compact()
        XCTAssertEqual(store.logBytes, 0)
        // Put the old log back next to the new snapshot, plus one record written after it.
        let extra = StoreMutation.putSandbox(sandbox("late", revision: 50))
        let extraRecord = LogRecord.frame(LogRecord.encode(sequence: expected.sequence + 1, extra))
        expected.apply(extra)
        let reopened = try reopen(store, directory, replacingLogWith: logBefore + extraRecord)
        XCTAssertEqual(reopened.state, expected)
        XCTAssertEqual(reopened.recovery.recordsSkipped, mutations.count)
        XCTAssertEqual(reopened.recovery.recordsReplayed, 1)
    }

    func testLeftoverTemporarySnapshotIsIgnored() throws {
        let directory = Fixture.temporaryDirectory(self)
        do {
            let store = try DurableStore(directory: directory)
            try store.commit(mutations[0])
        }
        Fixture.writeFile("\(directory)/snapshot.json.tmp", Array("{\"format\":".utf8))
        let store = try DurableStore(directory: directory)
        XCTAssertEqual(store.state.sandboxes.keys.sorted(), ["a"])
        XCTAssertFalse(FileIO.exists("\(directory)/snapshot.json.tmp"))
    }

    func testDamagedSnapshotRefusesToStartWithAnExplanation() throws {
        let directory = Fixture.temporaryDirectory(self)
        Fixture.writeFile("\(directory)/snapshot.json", Array("{\"format\":\"devmesh-agent-snapshot/1\",".utf8))
        XCTAssertThrowsError(try DurableStore(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("snapshot.json is damaged"), "\(error)")
        }
    }

    func testASecondStoreOnTheSameDirectoryIsRefused() throws {
        let directory = Fixture.temporaryDirectory(self)
        let first = try DurableStore(directory: directory)
        XCTAssertThrowsError(try DurableStore(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("another devmesh agent"), "\(error)")
        }
        first.close()
        XCTAssertThrowsError(try first.commit(.deleteSandbox("x")), "a closed store refuses writes")
        XCTAssertNoThrow(try DurableStore(directory: directory), "the lock is released on close")
    }

    func testServiceStateIsRebuiltFromTheStore() throws {
        let directory = Fixture.temporaryDirectory(self)
        var rules: [WorkloadRoutingRule] = []
        do {
            let service = try Fixture.service(self, directory: directory)
            _ = try service.createSandbox(Fixture.sandbox("a", forks: [Fixture.fork("route")]))
            _ = try service.createRouteGroup(RouteGroupSpec(name: "g", match: RouteGroupMatch(sandboxes: ["a"])))
            rules = service.routingRules(WorkloadRoutingRulesRequest())
        }
        let service = try Fixture.service(self, directory: directory)
        XCTAssertEqual(service.routingRules(WorkloadRoutingRulesRequest()), rules)
        XCTAssertEqual(rules.count, 2)
    }

    /// Closes `store` (by letting it go) and opens the directory again, optionally with another log.
    private func reopen(_ store: DurableStore, _ directory: String, replacingLogWith log: [UInt8]? = nil) throws -> DurableStore {
        store.close()
        if let log { Fixture.writeFile("\(directory)/wal.log", log) }
        return try DurableStore(directory: directory)
    }
}

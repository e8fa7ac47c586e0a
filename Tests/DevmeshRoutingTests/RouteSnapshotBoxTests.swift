import Foundation
import XCTest
@testable import DevmeshRouting

final class RouteSnapshotBoxTests: XCTestCase {
    /// A snapshot that is only "complete" when every field agrees with its serial number, so a
    /// torn or half-published snapshot would be visible.
    private final class Snapshot: Sendable {
        let serial: UInt64
        let payload: [UInt64]
        init(serial: UInt64) {
            self.serial = serial
            payload = Array(repeating: serial, count: 64)
        }
        var isComplete: Bool { payload.count == 64 && payload.allSatisfy { $0 == serial } }
    }

    func testPublishBumpsVersionAndLoadPairsThem() {
        let box = RouteSnapshotBox(Snapshot(serial: 0))
        XCTAssertEqual(box.currentVersion(), 0)
        XCTAssertEqual(box.load().snapshot.serial, 0)
        XCTAssertEqual(box.publish(Snapshot(serial: 1)), 1)
        XCTAssertEqual(box.publish(Snapshot(serial: 2)), 2)
        XCTAssertEqual(box.currentVersion(), 2)
        let loaded = box.load()
        XCTAssertEqual(loaded.version, 2)
        XCTAssertEqual(loaded.snapshot.serial, 2)
    }

    /// One thread publishes 1...N while another polls the way a worker does (version first,
    /// load only on change) until it has seen N. Every load must be complete, paired with its
    /// own version (serial == version here), and never older than the previous one.
    func testConcurrentPublishAndLoad() {
        let publishes: UInt64 = 20_000
        let box = RouteSnapshotBox(Snapshot(serial: 0))
        let publisher = Thread {
            for serial in 1...publishes { box.publish(Snapshot(serial: serial)) }
        }
        publisher.start()

        var seenVersion: UInt64 = 0
        var loads = 0
        var problems: [String] = []
        while seenVersion < publishes {
            guard box.currentVersion() != seenVersion else { continue }
            let (snapshot, version) = box.load()
            loads += 1
            if !snapshot.isComplete { problems.append("incomplete snapshot \(snapshot.serial)") }
            if snapshot.serial != version { problems.append("snapshot \(snapshot.serial) paired with version \(version)") }
            if version <= seenVersion { problems.append("version went from \(seenVersion) to \(version)") }
            seenVersion = version
            if problems.count > 5 { break }
        }
        XCTAssertEqual(problems, [])
        XCTAssertEqual(seenVersion, publishes)
        XCTAssertGreaterThan(loads, 0)
    }
}

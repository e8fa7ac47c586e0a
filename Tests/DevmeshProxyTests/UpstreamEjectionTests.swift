import DevmeshIO
@testable import DevmeshProxy
import XCTest

/// Passive health of one upstream endpoint: how many connect failures eject it, for how long,
/// and what ends an ejection. The integration test (test_faults.py, F9) shows the steering.
final class UpstreamEjectionTests: XCTestCase {
    private func pool() throws -> UpstreamPool {
        UpstreamPool(address: try XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: 9001)), name: "baseline")
    }

    func testFiveFailuresInARowEjectForFiveSeconds() throws {
        let pool = try pool()
        for attempt in 1...4 {
            XCTAssertFalse(pool.connectFailed(now: 1_000), "attempt \(attempt) must not eject yet")
        }
        XCTAssertTrue(pool.connectFailed(now: 1_000))
        XCTAssertTrue(pool.isEjected(now: 5_999))
        XCTAssertFalse(pool.isEjected(now: 6_000))
    }

    func testASuccessInBetweenStartsTheCountAgain() throws {
        let pool = try pool()
        for _ in 1...4 { _ = pool.connectFailed(now: 0) }
        pool.connectSucceeded()
        for _ in 1...4 { XCTAssertFalse(pool.connectFailed(now: 0)) }
        XCTAssertTrue(pool.connectFailed(now: 0))
    }

    func testAFailedProbeEjectsForTwiceAsLongUpToTheMaximum() throws {
        let pool = try pool()
        var now: Int64 = 0
        for _ in 1...5 { _ = pool.connectFailed(now: now) }
        var expected = UpstreamPool.firstEjectionMilliseconds
        XCTAssertEqual(pool.ejectedUntil, now + expected)
        for _ in 1...12 {
            now = pool.ejectedUntil
            XCTAssertTrue(pool.connectFailed(now: now), "the probe after an ejection fails: eject again")
            expected = min(expected * 2, UpstreamPool.maximumEjectionMilliseconds)
            XCTAssertEqual(pool.ejectedUntil - now, expected)
        }
        XCTAssertEqual(expected, UpstreamPool.maximumEjectionMilliseconds)
    }

    func testFailuresWhileEjectedDoNotExtendTheEjection() throws {
        let pool = try pool()
        for _ in 1...5 { _ = pool.connectFailed(now: 0) }
        let until = pool.ejectedUntil
        XCTAssertFalse(pool.connectFailed(now: 100), "a request sent anyway (no other endpoint) fails")
        XCTAssertEqual(pool.ejectedUntil, until)
    }

    func testASuccessfulProbeResetsTheBackoff() throws {
        let pool = try pool()
        for _ in 1...5 { _ = pool.connectFailed(now: 0) }
        _ = pool.connectFailed(now: pool.ejectedUntil)
        pool.connectSucceeded()
        let now = pool.ejectedUntil
        for _ in 1...5 { _ = pool.connectFailed(now: now) }
        XCTAssertEqual(pool.ejectedUntil - now, UpstreamPool.firstEjectionMilliseconds)
    }
}

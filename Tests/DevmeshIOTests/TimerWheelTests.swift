import DevmeshIO
import XCTest

final class TimerWheelTests: XCTestCase {
    private func expire(_ wheel: inout TimerWheel, at now: Int64) -> [Int32] {
        var expired: [Int32] = []
        wheel.advance(to: now, expired: &expired)
        return expired.sorted()
    }

    func testFiresAtDeadlineNotBefore() {
        var wheel = TimerWheel(now: 1_000)
        wheel.grow(to: 4)
        wheel.arm(0, at: 1_050)
        wheel.arm(1, at: 1_200)
        XCTAssertEqual(expire(&wheel, at: 1_049), [])
        XCTAssertEqual(expire(&wheel, at: 1_050), [0])
        XCTAssertEqual(expire(&wheel, at: 1_199), [])
        XCTAssertEqual(expire(&wheel, at: 1_200), [1])
        XCTAssertEqual(wheel.armedCount, 0)
    }

    func testDeadlineBeyondOneRevolutionWaitsItsTurn() {
        // 1024 buckets × 10 ms = 10.24 s per revolution; 25 s lands in a bucket visited twice before.
        var wheel = TimerWheel(now: 0)
        wheel.grow(to: 1)
        wheel.arm(0, at: 25_000)
        var fired: [Int64] = []
        var now: Int64 = 0
        while now <= 26_000 {
            if !expire(&wheel, at: now).isEmpty { fired.append(now) }
            now += 10
        }
        XCTAssertEqual(fired, [25_000])
    }

    func testRearmMovesTheTimerAndDisarmCancels() {
        var wheel = TimerWheel(now: 0)
        wheel.grow(to: 3)
        wheel.arm(0, at: 100)
        wheel.arm(0, at: 500)
        wheel.arm(1, at: 100)
        wheel.disarm(1)
        wheel.arm(2, at: 100)
        XCTAssertEqual(expire(&wheel, at: 100), [2])
        XCTAssertEqual(expire(&wheel, at: 499), [])
        XCTAssertEqual(expire(&wheel, at: 500), [0])
    }

    func testDeadlineLaterInTheCurrentTickIsNotSkipped() {
        // Regression: a deadline at 1_057 seen by an advance at 1_052 (same 10 ms tick) was kept
        // in an already processed bucket and waited a whole revolution.
        var wheel = TimerWheel(now: 1_000)
        wheel.grow(to: 1)
        wheel.arm(0, at: 1_057)
        XCTAssertEqual(expire(&wheel, at: 1_052), [])
        XCTAssertEqual(expire(&wheel, at: 1_059), [])
        XCTAssertEqual(expire(&wheel, at: 1_061), [0], "fires in the first tick at or after its deadline")
    }

    func testPastDeadlineFiresOnNextTick() {
        var wheel = TimerWheel(now: 10_000)
        wheel.grow(to: 1)
        wheel.arm(0, at: 5_000)
        XCTAssertEqual(expire(&wheel, at: 10_010), [0])
    }

    func testLongJumpFiresEverythingDue() {
        var wheel = TimerWheel(now: 0)
        wheel.grow(to: 100)
        for slot in 0..<100 { wheel.arm(Int32(slot), at: Int64(slot) * 97) }
        XCTAssertEqual(expire(&wheel, at: 60_000), (0..<100).map { Int32($0) })
    }

    func testSleepHintPointsAtNextNonEmptyBucket() {
        var wheel = TimerWheel(now: 0)
        wheel.grow(to: 2)
        XCTAssertNil(wheel.millisecondsUntilNextTick(now: 0))
        wheel.arm(0, at: 730)
        let wait = wheel.millisecondsUntilNextTick(now: 0)!
        XCTAssertEqual(wait, 730)
        wheel.arm(1, at: 40)
        XCTAssertEqual(wheel.millisecondsUntilNextTick(now: 0), 40)
    }

    func testRandomisedAgainstAModel() {
        var generator = SplitMix(seed: 42)
        var wheel = TimerWheel(now: 0)
        let slots = 64
        wheel.grow(to: slots)
        // The model: a timer fires in the first advance whose tick reaches its deadline's tick,
        // but never in the tick it was armed in (those are already processed).
        var model = [Int64?](repeating: nil, count: slots)
        var now: Int64 = 0
        var processedTick: Int64 = 0
        for _ in 0..<20_000 {
            let slot = Int(generator.next() % UInt64(slots))
            switch generator.next() % 4 {
            case 0, 1:
                let deadline = now + Int64(generator.next() % 30_000)
                wheel.arm(Int32(slot), at: deadline)
                model[slot] = max((deadline + 9) / 10, processedTick + 1)
            case 2:
                wheel.disarm(Int32(slot))
                model[slot] = nil
            default:
                now += Int64(generator.next() % 400)
                let fired = expire(&wheel, at: now)
                processedTick = max(processedTick, now / 10)
                // Fired exactly in its tick, and nothing due was missed.
                let due = model.indices.filter { model[$0].map { $0 <= now / 10 } ?? false }.map { Int32($0) }
                XCTAssertEqual(fired, due)
                for index in fired { model[Int(index)] = nil }
            }
        }
    }
}

/// A small deterministic generator so randomised tests replay the same way every time.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import DevmeshIO
import Glibc
import XCTest

/// The loop over real sockets on loopback: edge-triggered readiness, stale-slot filtering,
/// timers and cross-thread wake-ups.
final class EventLoopTests: XCTestCase {
    final class Recorder: EventHandler {
        var events: [UInt32] = []
        var timers = 0
        var onEvent: ((UInt32) -> Void)?
        var onTimer: (() -> Void)?
        func handleEvents(_ events: UInt32) { self.events.append(events); onEvent?(events) }
        func handleTimer() { timers += 1; onTimer?() }
    }

    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        return (fds[0], fds[1])
    }

    func testReadableEdgeIsReportedForData() throws {
        let loop = try EventLoop()
        let (left, right) = socketPair()
        defer { close(left); close(right) }
        let recorder = Recorder()
        _ = try loop.register(left, handler: recorder)
        recorder.onEvent = { events in
            if events & EventLoop.Events.readable != 0 { loop.stop() }
        }
        _ = "ping".withCString { write(right, $0, 4) }
        loop.run()
        XCTAssertTrue(recorder.events.contains { $0 & EventLoop.Events.readable != 0 })
    }

    func testDeregisteredSlotGetsNoEventsAndIsReusedWithANewGeneration() throws {
        let loop = try EventLoop()
        let (a1, a2) = socketPair()
        let (b1, b2) = socketPair()
        defer { close(a2); close(b1); close(b2) }
        let first = Recorder()
        let slotA = try loop.register(a1, handler: first)
        loop.deregister(slotA)
        close(a1)
        let second = Recorder()
        let slotB = try loop.register(b1, handler: second)
        XCTAssertEqual(slotA.index, slotB.index, "the freed slot is reused")
        XCTAssertNotEqual(slotA.generation, slotB.generation)
        second.onEvent = { _ in loop.stop() }
        _ = "x".withCString { write(b2, $0, 1) }
        loop.run()
        XCTAssertTrue(first.events.isEmpty)
        XCTAssertFalse(second.events.isEmpty)
    }

    func testTimerFiresAndCanBeCancelled() throws {
        let loop = try EventLoop()
        let fired = Recorder()
        let cancelled = Recorder()
        let slot = loop.registerTimerOnly(handler: fired)
        let other = loop.registerTimerOnly(handler: cancelled)
        loop.setTimer(slot, deadline: loop.now + 30)
        loop.setTimer(other, deadline: loop.now + 20)
        loop.cancelTimer(other)
        let started = EventLoop.monotonicMilliseconds()
        fired.onTimer = { loop.stop() }
        loop.run()
        XCTAssertEqual(fired.timers, 1)
        XCTAssertEqual(cancelled.timers, 0)
        XCTAssertGreaterThanOrEqual(EventLoop.monotonicMilliseconds() - started, 30)
    }

    func testWakerFromAnotherThread() throws {
        let waker = try LoopWaker.make()
        let loop = try EventLoop(waker: waker)
        var woken = false
        loop.onWakeUp = {
            woken = true
            loop.stop()
        }
        let thread = PosixThread.start(name: "waker-test") { waker.wake() }
        loop.run()
        thread.join()
        XCTAssertTrue(woken)
    }

    func testResumeLaterCallsBackInTheSameIteration() throws {
        let loop = try EventLoop()
        let recorder = Recorder()
        let slot = loop.registerTimerOnly(handler: recorder)
        recorder.onEvent = { events in
            XCTAssertEqual(events, EventLoop.Events.resume)
            loop.stop()
        }
        loop.resumeLater(slot)
        loop.setTimer(slot, deadline: loop.now + 60_000) // would block a minute without the resume
        loop.run()
        XCTAssertEqual(recorder.events, [EventLoop.Events.resume])
    }

    /// After a turn that handled events that were already waiting (a dense wake-up) on a slot
    /// marked for batching, a loop with a batch window pauses before it polls again, so bytes that
    /// arrive on two sockets 100 ms apart during a 300 ms pause are handled in one turn. Without
    /// the window, on unmarked slots (one request per connection), or with fewer requests in
    /// flight than a pause needs, each gets a turn of its own.
    /// A writer thread, started when the first socket's event is handled, sends to the other two.
    func testBatchWindowGathersWhatArrivesDuringThePause() throws {
        // (window, slots marked for batching, requests in flight, expect one turn for both)
        let enough = EventLoop.requestsInFlightToPause
        for (windowMilliseconds, marked, inFlight, batched) in [(0, true, enough, false), (300, true, enough, true),
                                                                (300, false, enough, false), (300, true, enough - 1, false)] {
            let loop = try EventLoop()
            loop.batchWindowNanoseconds = windowMilliseconds * 1_000_000
            loop.requestsInFlight = inFlight
            let pairs = [socketPair(), socketPair(), socketPair()]
            defer { for (a, b) in pairs { close(a); close(b) } }
            var turn = 0
            loop.onIterationEnd = { turn += 1 }
            var handledInTurn: [Int: Int] = [:]
            var firstHandledAt: Int64 = 0
            var secondHandledAt: Int64 = 0
            var writer: PosixThread?
            let writeEnds = (pairs[1].1, pairs[2].1)
            for (index, pair) in pairs.enumerated() {
                let recorder = Recorder()
                let slot = try loop.register(pair.0, handler: recorder)
                loop.setBatching(slot, marked)
                recorder.onEvent = { events in
                    guard events & EventLoop.Events.readable != 0, handledInTurn[index] == nil else { return }
                    handledInTurn[index] = turn
                    if index == 0 {
                        firstHandledAt = EventLoop.monotonicMilliseconds()
                        writer = PosixThread.start(name: "batch-writer") {
                            _ = "b".withCString { write(writeEnds.0, $0, 1) }
                            usleep(100_000)
                            _ = "c".withCString { write(writeEnds.1, $0, 1) }
                        }
                    } else if index == 1 {
                        secondHandledAt = EventLoop.monotonicMilliseconds()
                    }
                    if handledInTurn.count == 3 { loop.stop() }
                }
            }
            _ = "a".withCString { write(pairs[0].1, $0, 1) }
            loop.run()
            writer?.join()
            if batched {
                XCTAssertEqual(handledInTurn[1], handledInTurn[2], "both arrived during the pause")
                XCTAssertGreaterThanOrEqual(secondHandledAt - firstHandledAt, Int64(windowMilliseconds))
                XCTAssertGreaterThanOrEqual(loop.batchPauses, 1)
            } else {
                XCTAssertNotEqual(handledInTurn[1], handledInTurn[2],
                                  "each woke the loop (window \(windowMilliseconds), marked \(marked), in flight \(inFlight))")
                XCTAssertEqual(loop.batchPauses, 0)
            }
        }
    }

    /// An event that wakes a loop which has been idle for longer than the dense-wait limit is
    /// handled with no pause after it: sparse traffic pays no batching delay.
    func testNoPauseAfterAWakeUpFromALongIdle() throws {
        let loop = try EventLoop()
        let (left, right) = socketPair()
        defer { close(left); close(right) }
        let recorder = Recorder()
        loop.setBatching(try loop.register(left, handler: recorder), true)
        loop.requestsInFlight = EventLoop.requestsInFlightToPause
        let timer = Recorder()
        let timerSlot = loop.registerTimerOnly(handler: timer)
        timer.onTimer = { loop.stop() }
        var readable = 0
        recorder.onEvent = { events in
            // The writable edge of registration comes at once; the window starts after it.
            loop.batchWindowNanoseconds = 1_000_000 // 1 ms: dense means woken within 4 ms
            guard events & EventLoop.Events.readable != 0 else { return }
            readable += 1
            loop.setTimer(timerSlot, deadline: loop.now + 30)
        }
        let writer = PosixThread.start(name: "late-writer") {
            usleep(50_000)
            _ = "x".withCString { write(right, $0, 1) }
        }
        loop.run()
        writer.join()
        XCTAssertEqual(readable, 1)
        XCTAssertEqual(loop.batchPauses, 0)
    }

    func testListenAcceptConnectOnLoopback() throws {
        let listenerFD = try Sockets.listen(on: SocketAddress(ip: "127.0.0.1", port: 0)!, reusePort: true)
        defer { close(listenerFD) }
        let address = try Syscall.localAddress(listenerFD)
        XCTAssertNotEqual(address.port, 0)
        let (client, _) = try Sockets.connect(to: address)
        defer { close(client) }
        var accepted: Int32 = -1
        for _ in 0..<1000 {
            if case .done(let fd) = try Syscall.accept(listenerFD) { accepted = fd; break }
            usleep(1000)
        }
        XCTAssertGreaterThanOrEqual(accepted, 0)
        close(accepted)
    }

    func testSocketAddressParsing() throws {
        XCTAssertEqual(try SocketAddress.parse("127.0.0.1:8080").description, "127.0.0.1:8080")
        XCTAssertEqual(try SocketAddress.parse("[::1]:9").description, "[::1]:9")
        XCTAssertThrowsError(try SocketAddress.parse("127.0.0.1"))
        XCTAssertThrowsError(try SocketAddress.parse("127.0.0.1:70000"))
        XCTAssertEqual(try SocketAddress.resolve(host: "localhost", port: 80).port, 80)
    }
}

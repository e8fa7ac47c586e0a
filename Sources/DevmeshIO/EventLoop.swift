import CDevmeshLinux
import Glibc

/// Something registered with an event loop: a listener, a connection, an eventfd.
/// All calls arrive on the loop's own thread.
public protocol EventHandler: AnyObject {
    /// Readiness changed (`EventLoop.Events` bits), or `EventLoop.Events.resume` when the handler
    /// asked to be called again (`EventLoop.resumeLater`).
    func handleEvents(_ events: UInt32)
    /// The slot's timer fired.
    func handleTimer()
}

/// A registration in the loop's slot table. `generation` changes every time a slot is reused,
/// so an event or timer meant for a closed descriptor is recognised and dropped.
public struct Slot: Equatable, Sendable {
    public let index: Int32
    public let generation: UInt32

    public static let invalid = Slot(index: -1, generation: 0)

    @inlinable
    var epollData: UInt64 { UInt64(UInt32(bitPattern: index)) << 32 | UInt64(generation) }
}

/// Wakes an `EventLoop` from another thread (an eventfd write). The loop must outlive it.
public struct LoopWaker: Sendable {
    let fd: Int32

    /// A new eventfd, to be handed to the `EventLoop` that will own it. Creating it before the
    /// loop lets another thread hold the waker while the loop is built on its own thread.
    public static func make() throws(Errno) -> LoopWaker {
        LoopWaker(fd: try Syscall.eventFD())
    }

    public func wake() { Syscall.signalEventFD(fd) }
}

/// One epoll instance driven by one thread (a worker, or the control thread).
///
/// - Sockets are registered once, edge-triggered, for input, output and peer half-close, and are
///   never modified afterwards: handlers track readiness themselves (read until the kernel says
///   EAGAIN or gives fewer bytes than asked; write until it takes less than offered).
/// - `epoll_event.data` carries `(slot << 32) | generation`: no object pointers, no retain per
///   event, and stale events for reused descriptors are dropped.
/// - Each slot has at most one timer (`TimerWheel`); a handler keeps the earliest deadline it
///   cares about there.
/// - An eventfd lets other threads wake the loop (`waker`), which then calls `onWakeUp`.
public final class EventLoop {
    public enum Events {
        public static let readable = CDevmeshLinux_EPOLLIN
        public static let writable = CDevmeshLinux_EPOLLOUT
        public static let peerHalfClosed = CDevmeshLinux_EPOLLRDHUP
        public static let hangUp = CDevmeshLinux_EPOLLHUP
        public static let error = CDevmeshLinux_EPOLLERR
        /// Not a kernel flag: the handler asked to be resumed (see `resumeLater`).
        public static let resume: UInt32 = 1 << 27
        /// What every socket is registered for.
        static let socket = CDevmeshLinux_EPOLLIN | CDevmeshLinux_EPOLLOUT | CDevmeshLinux_EPOLLRDHUP
            | CDevmeshLinux_EPOLLET
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private var handlers: [(any EventHandler)?] = []
    /// Per slot: whether its events make a dense turn pause (see `setBatching`).
    private var batching: [Bool] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int32] = []
    private var timers: TimerWheel
    private var expired: [Int32] = []
    private var expiredSlots: [Slot] = []
    private var resumeQueue: [Slot] = []
    private var resumeRunning: [Slot] = []
    private let events: UnsafeMutablePointer<epoll_event>
    private let eventCapacity: Int32 = 256

    /// Monotonic milliseconds, read once per loop iteration (and after each wait).
    public private(set) var now: Int64
    /// Number of registered handlers (the eventfd not counted).
    public private(set) var registeredCount = 0
    /// Called on the loop thread after another thread called `wakeUp()`.
    public var onWakeUp: (() -> Void)?
    /// Called once per iteration after events, resumptions and timers have been handled.
    public var onIterationEnd: (() -> Void)?
    /// Interrupt moderation. When events come densely (the loop was woken less than
    /// `denseWaitFactor` windows after it went to sleep) and the turn handled events of a slot
    /// marked with `setBatching`, and at least `requestsInFlightToPause` requests are in flight,
    /// the loop pauses this long after that turn, before it polls again. Whatever arrives meanwhile is then read,
    /// and forwarded, in one batch: fewer reads, sends and wake-ups per request, which matters
    /// most for multiplexed HTTP/2 connections, whose frames otherwise go one per syscall. An
    /// event that wakes a loop that was idle for longer is handled, and its output written, at
    /// once, and no pause follows it, so sparse traffic pays nothing; events arriving during a
    /// pause wait at most this long. 0 turns it off (docs/configuration.md, `batch_window_us`).
    public var batchWindowNanoseconds = 0
    /// Pauses taken (see `batchWindowNanoseconds`).
    public private(set) var batchPauses = 0
    /// A wake-up this many windows or less after the loop went to sleep counts as dense.
    public static let denseWaitFactor = 4
    /// Requests in flight on this loop, kept by its owner (the proxy's worker counts every request
    /// it admitted and has not finished). A pause is taken only while at least
    /// `requestsInFlightToPause` are. With fewer, nothing is left to
    /// gather: a client making one call at a time would wait a window per hop of every call, and
    /// a few clients in a closed loop would lose throughput (S4 at 1×1, 4×1, 1×10 and 16×1 in
    /// docs/benchmarks.md).
    public var requestsInFlight = 0
    public static let requestsInFlightToPause = 32
    private var pauseBeforeNextPoll = false
    private var timerSlackSet = false
    private var stopRequested = false

    /// `waker`: the eventfd other threads will use to wake this loop (made by `LoopWaker.make`);
    /// the loop takes ownership of it.
    public init(waker: LoopWaker? = nil) throws(Errno) {
        epollFD = try Syscall.epollCreate()
        if let waker { wakeFD = waker.fd } else { wakeFD = try Syscall.eventFD() }
        now = EventLoop.monotonicMilliseconds()
        timers = TimerWheel(now: now)
        events = .allocate(capacity: Int(eventCapacity))
        expired.reserveCapacity(256)
        expiredSlots.reserveCapacity(256)
        resumeQueue.reserveCapacity(64)
        resumeRunning.reserveCapacity(64)
        try Syscall.epollAdd(epollFD, wakeFD, events: CDevmeshLinux_EPOLLIN | CDevmeshLinux_EPOLLET, data: UInt64.max)
    }

    deinit {
        events.deallocate()
        Syscall.close(wakeFD)
        Syscall.close(epollFD)
    }

    public static func monotonicNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    public static func monotonicMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    // MARK: Registration

    /// Registers `fd` for edge-triggered input, output and peer half-close.
    public func register(_ fd: Int32, handler: any EventHandler) throws(Errno) -> Slot {
        let slot = allocateSlot(handler)
        do {
            try Syscall.epollAdd(epollFD, fd, events: Events.socket, data: slot.epollData)
        } catch {
            releaseSlot(slot)
            throw error
        }
        return slot
    }

    /// Hands a registration to another handler (a connection that switches protocol keeps its
    /// descriptor, slot and timer; only the object that receives its events changes).
    public func replaceHandler(_ slot: Slot, with handler: any EventHandler) {
        guard isCurrent(slot) else { return }
        handlers[Int(slot.index)] = handler
    }

    /// Marks a slot whose events are worth batching: a multiplexed (HTTP/2) connection, where
    /// what arrives during a pause is read, and written on, in one syscall per connection. Only a
    /// dense turn that handled such a slot's events is followed by a pause; for a connection that
    /// carries one request at a time a pause would only add latency.
    public func setBatching(_ slot: Slot, _ enabled: Bool) {
        guard isCurrent(slot) else { return }
        batching[Int(slot.index)] = enabled
    }

    /// Registers a handler that has no descriptor (it only uses a timer or `resumeLater`).
    public func registerTimerOnly(handler: any EventHandler) -> Slot {
        allocateSlot(handler)
    }

    /// Drops the registration. Call it right before closing the descriptor: closing removes the
    /// descriptor from epoll, so no `epoll_ctl(DEL)` syscall is spent. Pending events and timers
    /// for the slot are ignored from now on.
    public func deregister(_ slot: Slot) {
        guard isCurrent(slot) else { return }
        timers.disarm(slot.index)
        releaseSlot(slot)
    }

    /// Removes a descriptor from epoll without closing it (for a listener handed elsewhere).
    public func stopWatching(_ fd: Int32) {
        Syscall.epollDelete(epollFD, fd)
    }

    private func allocateSlot(_ handler: any EventHandler) -> Slot {
        registeredCount += 1
        if let index = freeSlots.popLast() {
            handlers[Int(index)] = handler
            batching[Int(index)] = false
            return Slot(index: index, generation: generations[Int(index)])
        }
        let index = Int32(handlers.count)
        handlers.append(handler)
        batching.append(false)
        generations.append(1)
        timers.grow(to: handlers.count)
        return Slot(index: index, generation: 1)
    }

    private func releaseSlot(_ slot: Slot) {
        registeredCount -= 1
        handlers[Int(slot.index)] = nil
        generations[Int(slot.index)] &+= 1
        freeSlots.append(slot.index)
    }

    @inline(__always)
    private func isCurrent(_ slot: Slot) -> Bool {
        slot.index >= 0 && Int(slot.index) < generations.count && generations[Int(slot.index)] == slot.generation
    }

    // MARK: Timers and resumption

    /// Arms the slot's single timer for an absolute monotonic deadline in milliseconds.
    public func setTimer(_ slot: Slot, deadline: Int64) {
        guard isCurrent(slot) else { return }
        timers.arm(slot.index, at: deadline)
    }

    public func cancelTimer(_ slot: Slot) {
        guard isCurrent(slot) else { return }
        timers.disarm(slot.index)
    }

    public func timerDeadline(_ slot: Slot) -> Int64? {
        guard isCurrent(slot) else { return nil }
        return timers.deadline(of: slot.index)
    }

    /// Calls the handler again with `Events.resume` in this iteration's resume pass. Used to
    /// continue work that was cut short for fairness (an accept loop, a pipelined request),
    /// since an edge-triggered descriptor will not report the same readiness twice.
    public func resumeLater(_ slot: Slot) {
        resumeQueue.append(slot)
    }

    // MARK: Running

    /// A handle that wakes this loop from any thread.
    public var waker: LoopWaker { LoopWaker(fd: wakeFD) }

    /// Ends `run()` after the current iteration.
    public func stop() {
        stopRequested = true
    }

    /// Runs until `stop()` is called.
    public func run() {
        stopRequested = false
        while !stopRequested {
            runOnce()
        }
    }

    private func runOnce() {
        let timeout: Int32
        if !resumeQueue.isEmpty {
            timeout = 0
        } else if let wait = nextTimerWait() {
            timeout = Int32(clamping: wait)
        } else {
            timeout = -1
        }
        let count: Int
        var denseWake = false
        if batchWindowNanoseconds > 0 {
            // No pause while resumptions wait (timeout 0): they are work already in hand.
            if pauseBeforeNextPoll && timeout != 0 { pauseForBatch() }
            let sleptFrom = EventLoop.monotonicNanoseconds()
            count = Syscall.epollWait(epollFD, events, eventCapacity, timeoutMilliseconds: timeout)
            denseWake = count > 0
                && EventLoop.monotonicNanoseconds() - sleptFrom <= Int64(batchWindowNanoseconds * EventLoop.denseWaitFactor)
        } else {
            count = Syscall.epollWait(epollFD, events, eventCapacity, timeoutMilliseconds: timeout)
        }
        var batchingEvent = false
        now = EventLoop.monotonicMilliseconds()
        for position in 0..<count {
            let event = events[position]
            let data = event.data.u64
            if data == UInt64.max {
                Syscall.drainEventFD(wakeFD)
                onWakeUp?()
                continue
            }
            let index = Int(truncatingIfNeeded: data >> 32)
            let generation = UInt32(truncatingIfNeeded: data)
            // An event for a slot closed earlier in this batch (or reused since) is stale.
            guard index < generations.count, generations[index] == generation,
                  let handler = handlers[index] else { continue }
            if batching[index] { batchingEvent = true }
            handler.handleEvents(event.events)
        }
        pauseBeforeNextPoll = denseWake && batchingEvent && requestsInFlight >= EventLoop.requestsInFlightToPause
        runResumptions()
        runTimers()
        onIterationEnd?()
    }

    /// Milliseconds until the next timer tick, or nil without armed timers. The clock is read
    /// before the wheel is touched: with a call the optimiser cannot see through (the vDSO clock)
    /// inside the access, it copied the whole wheel, retaining and releasing its six arrays on
    /// every loop turn.
    private func nextTimerWait() -> Int64? {
        guard timers.armedCount > 0 else { return nil }
        let clock = EventLoop.monotonicMilliseconds()
        return timers.millisecondsUntilNextTick(now: clock)
    }

    /// Sleeps for the batch window. The thread's timer slack (50 µs by default) would stretch a
    /// pause of tens of microseconds to about twice its length, so it is narrowed first, on the
    /// loop's own thread, the first time a pause is taken.
    private func pauseForBatch() {
        if !timerSlackSet {
            _ = CDevmeshLinux_setTimerSlack(1_000)
            timerSlackSet = true
        }
        var pause = timespec(tv_sec: batchWindowNanoseconds / 1_000_000_000,
                             tv_nsec: batchWindowNanoseconds % 1_000_000_000)
        _ = nanosleep(&pause, nil)
        batchPauses &+= 1
    }

    private func runResumptions() {
        guard !resumeQueue.isEmpty else { return }
        swap(&resumeQueue, &resumeRunning)
        for slot in resumeRunning {
            guard isCurrent(slot), let handler = handlers[Int(slot.index)] else { continue }
            handler.handleEvents(Events.resume)
        }
        resumeRunning.removeAll(keepingCapacity: true)
    }

    private func runTimers() {
        timers.advance(to: now, expired: &expired)
        guard !expired.isEmpty else { return }
        // Pin each expired slot to its current generation first: a handler fired earlier in
        // this pass may close another expired slot, and the index may be reused at once.
        expiredSlots.removeAll(keepingCapacity: true)
        for index in expired {
            expiredSlots.append(Slot(index: index, generation: generations[Int(index)]))
        }
        expired.removeAll(keepingCapacity: true)
        for slot in expiredSlots {
            guard isCurrent(slot), let handler = handlers[Int(slot.index)] else { continue }
            handler.handleTimer()
        }
    }
}

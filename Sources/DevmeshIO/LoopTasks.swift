/// Small handlers for work a loop runs on a timer or a signal, shared by the proxy, the agent and
/// the gRPC client (each registers a timer-only slot or the signalfd).

/// A callback every `interval` milliseconds.
public final class PeriodicTask: EventHandler {
    private let loop: EventLoop
    private let interval: Int64
    private let body: () -> Void
    private var slot: Slot = .invalid

    public init(loop: EventLoop, intervalMilliseconds: Int64, body: @escaping () -> Void) {
        self.loop = loop
        self.interval = intervalMilliseconds
        self.body = body
        slot = loop.registerTimerOnly(handler: self)
        loop.setTimer(slot, deadline: loop.now + interval)
    }

    public func handleEvents(_ events: UInt32) {}

    public func handleTimer() {
        body()
        loop.setTimer(slot, deadline: loop.now + interval)
    }
}

/// A one-shot callback after a delay (0: at the end of this loop turn's timers, outside whatever
/// callback stack scheduled it). Dropping the task cancels it.
public final class TimerTask: EventHandler {
    private let loop: EventLoop
    private var slot: Slot = .invalid
    private let body: () -> Void

    public init(loop: EventLoop, afterMilliseconds delay: Int64, body: @escaping () -> Void) {
        self.loop = loop
        self.body = body
        slot = loop.registerTimerOnly(handler: self)
        loop.setTimer(slot, deadline: loop.now + max(0, delay))
    }

    deinit { loop.deregister(slot) }

    public func handleEvents(_ events: UInt32) {}

    public func handleTimer() {
        loop.deregister(slot)
        slot = .invalid
        body()
    }
}

/// Reads the signals a signalfd reports (see `Signals.makeSignalFD`) and hands each to `onSignal`.
public final class SignalSource: EventHandler {
    private let fd: Int32
    private let onSignal: (Int32) -> Void

    public init(fd: Int32, onSignal: @escaping (Int32) -> Void) {
        self.fd = fd
        self.onSignal = onSignal
    }

    public func handleEvents(_ events: UInt32) {
        while let signal = Signals.readSignal(fd) { onSignal(signal) }
    }

    public func handleTimer() {}
}

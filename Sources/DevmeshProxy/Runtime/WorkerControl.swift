import DevmeshIO
import Synchronization

/// The whole surface shared between the control thread and one worker thread. Everything else a
/// worker touches is confined to its own thread.
///
/// - commands flow in through atomics plus an eventfd wake-up (`waker`);
/// - counters flow out through `publishedStats`, a mutex taken once per publish interval by the
///   worker and once per scrape by the admin endpoint;
/// - the route snapshot is shared separately (`SnapshotBox`).
public final class WorkerControl: Sendable {
    public let id: Int
    let waker: LoopWaker
    /// Set by the control thread: stop accepting and finish in-flight work.
    let drainRequested = Atomic<Bool>(false)
    /// Set by the worker when it has no connection left during a drain.
    let finished = Atomic<Bool>(false)
    /// Set by the control thread before `requestDrain` when a successor process took over
    /// (binary upgrade): this worker's listening descriptors that the successor now holds too.
    /// The worker closes its copies without accepting from them (their queues are the
    /// successor's to serve). nil: a plain drain (SIGTERM).
    let listenersHandedOver = Mutex<[Int32]?>(nil)
    let publishedStats = Mutex(WorkerStats())

    init(id: Int, waker: LoopWaker) {
        self.id = id
        self.waker = waker
    }

    func requestDrain() {
        drainRequested.store(true, ordering: .releasing)
        waker.wake()
    }

    public var stats: WorkerStats { publishedStats.withLock { $0 } }
}

import DevmeshIO
import Glibc

/// A worker's own SO_REUSEPORT listening socket.
///
/// Accepts until EAGAIN, but at most `acceptBatch` per turn so that a connection storm cannot
/// starve established connections; the rest is resumed in the same loop iteration's resume pass.
/// When the process is out of descriptors (EMFILE/ENFILE) accepting pauses for `pauseOnExhaustion`
/// instead of spinning on an accept that keeps failing (the pending connection stays queued in
/// the kernel, and existing connections keep working).
final class Listener: EventHandler {
    static let acceptBatch = 64
    static let pauseOnExhaustionMilliseconds: Int64 = 100

    /// The worker owns this object (through its loop's slot table) and outlives it, so the
    /// back-reference needs no reference counting.
    unowned(unsafe) let worker: Worker
    let fd: Int32
    private(set) var slot: Slot = .invalid
    private var paused = false

    init(worker: Worker, fd: Int32) throws(Errno) {
        self.worker = worker
        self.fd = fd
        slot = try worker.loop.register(fd, handler: self)
    }

    func handleEvents(_ events: UInt32) {
        guard !paused else { return }
        acceptBatchOfConnections()
    }

    func handleTimer() {
        paused = false
        acceptBatchOfConnections()
    }

    /// Accepts what is queued (used once more when draining, so that connections the kernel already
    /// accepted on our behalf are served rather than reset), then closes the socket.
    func close() {
        acceptBatchOfConnections(limit: Int.max)
        worker.loop.deregister(slot)
        Syscall.close(fd)
    }

    /// The socket lives on in a successor process (binary upgrade): stop watching it and close
    /// this process's copy without accepting, so that what is queued is served there. epoll
    /// forgets a descriptor only when the socket itself closes, which it does not here: without
    /// the explicit removal this loop would keep waking for the successor's connections.
    func release() {
        worker.loop.stopWatching(fd)
        worker.loop.deregister(slot)
        Syscall.close(fd)
    }

    private func acceptBatchOfConnections(limit: Int = Listener.acceptBatch) {
        var accepted = 0
        while accepted < limit {
            let result: IOResult<Int32>
            do {
                result = try Syscall.accept(fd)
            } catch {
                worker.stats.acceptErrors &+= 1
                if error == Errno.tooManyOpenFiles || error == Errno.systemTooManyOpenFiles {
                    paused = true
                    worker.loop.setTimer(slot, deadline: worker.loop.now + Listener.pauseOnExhaustionMilliseconds)
                }
                return
            }
            guard case .done(let connection) = result else { return }
            accepted += 1
            worker.adoptDownstream(connection)
        }
        worker.loop.resumeLater(slot)
    }
}

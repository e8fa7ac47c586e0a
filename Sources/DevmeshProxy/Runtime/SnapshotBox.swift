import Synchronization

/// Publishes route snapshots from the control thread to the workers.
///
/// `publish` stores the snapshot under a mutex and then bumps an atomic version; the publisher
/// then wakes every worker, which compares the version and only takes the lock when it changed.
/// The request path never touches the lock.
public final class SnapshotBox: Sendable {
    private let current: Mutex<ProxySnapshot>
    private let publishedVersion: Atomic<UInt64>

    public init(_ initial: ProxySnapshot) {
        current = Mutex(initial)
        publishedVersion = Atomic(initial.version)
    }

    public var version: UInt64 { publishedVersion.load(ordering: .acquiring) }

    public func load() -> ProxySnapshot {
        current.withLock { $0 }
    }

    public func publish(_ snapshot: ProxySnapshot) {
        current.withLock { $0 = snapshot }
        publishedVersion.store(snapshot.version, ordering: .releasing)
    }
}

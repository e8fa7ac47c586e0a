import Synchronization

/// Hands the newest routing snapshot from the control thread to the workers.
///
/// The proxy publishes an immutable snapshot object (a `RouteTable` plus whatever it derives
/// from it, such as resolved addresses), hence the generic. The request path never takes the
/// lock: a worker compares `currentVersion()` (one relaxed atomic load) with the version it
/// holds once per event-loop iteration, and only when it differs calls `load()`, which takes
/// the lock to read the snapshot and its version together.
///
/// Publishing stores the snapshot and bumps the version inside the same critical section, so
/// `load()` never returns a snapshot paired with another snapshot's version. A worker that
/// reads the old version in a race simply picks the new snapshot up on its next iteration
/// (the proxy wakes workers through their eventfd after publishing).
public final class RouteSnapshotBox<Snapshot: AnyObject & Sendable>: Sendable {
    private let snapshot: Mutex<Snapshot>
    private let version: Atomic<UInt64>

    /// Starts at version 0 with `initial`.
    public init(_ initial: Snapshot) {
        snapshot = Mutex(initial)
        version = Atomic(0)
    }

    /// Makes `newSnapshot` current and returns its version (previous version + 1).
    @discardableResult
    public func publish(_ newSnapshot: Snapshot) -> UInt64 {
        snapshot.withLock { current in
            current = newSnapshot
            return version.wrappingAdd(1, ordering: .releasing).newValue
        }
    }

    /// The version of the current snapshot: cheap enough to call once per loop iteration.
    /// Relaxed, because the snapshot itself is read under the lock in `load()`.
    @inline(__always)
    public func currentVersion() -> UInt64 {
        version.load(ordering: .relaxed)
    }

    /// The current snapshot and its version, read together under the lock.
    public func load() -> (snapshot: Snapshot, version: UInt64) {
        snapshot.withLock { current in
            (current, version.load(ordering: .relaxed))
        }
    }
}

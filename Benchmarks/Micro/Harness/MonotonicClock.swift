import Glibc

/// Nanoseconds from CLOCK_MONOTONIC: not affected by wall-clock changes, and read through the
/// vDSO, so it costs tens of nanoseconds and never allocates. Read only around whole runs.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

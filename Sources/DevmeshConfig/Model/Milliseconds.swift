/// A duration in whole milliseconds: the one time unit of the configuration model.
///
/// Whole milliseconds are fine-grained enough for every timer the proxy arms (epoll and
/// timerfd work in milliseconds) and an `Int64` never overflows for any sane duration.
/// Zero means "off" only for the timeouts whose documentation says so
/// (`Timeouts.upstreamResponse` and `Timeouts.streamIdle`); everywhere else the loader
/// rejects it.
public struct Milliseconds: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Int64

    public init(_ value: Int64) {
        self.value = value
    }

    public static func seconds(_ seconds: Int64) -> Milliseconds {
        Milliseconds(seconds * 1_000)
    }

    public static func minutes(_ minutes: Int64) -> Milliseconds {
        Milliseconds(minutes * 60_000)
    }

    /// The value that switches a timeout off where zero is documented to mean "off".
    public static let off = Milliseconds(0)

    public var isOff: Bool { value == 0 }

    public static func < (lhs: Milliseconds, rhs: Milliseconds) -> Bool {
        lhs.value < rhs.value
    }

    /// The largest unit that represents the value exactly, in the YAML spelling
    /// (`15s`, `250ms`, `2m`, `1h`), so logs and `/config` echo what an operator would write.
    public var description: String {
        if value != 0 {
            if value % 3_600_000 == 0 { return "\(value / 3_600_000)h" }
            if value % 60_000 == 0 { return "\(value / 60_000)m" }
            if value % 1_000 == 0 { return "\(value / 1_000)s" }
        }
        return "\(value)ms"
    }
}

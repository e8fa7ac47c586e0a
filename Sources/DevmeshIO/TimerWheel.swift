/// A hashed timer wheel with one timer per event-loop slot, stored in parallel arrays indexed by
/// slot (intrusive doubly linked lists through slot numbers): arming and disarming never
/// allocate and never touch reference counts.
///
/// Granularity is `tickMilliseconds` (a timer fires in the first tick at or after its deadline:
/// never early, late by at most a tick plus the loop's latency); deadlines beyond one revolution stay in their bucket and
/// are skipped until their time comes. A bitmap of non-empty buckets lets the loop compute how
/// long it may sleep without scanning every bucket.
///
/// Handlers re-check their real deadline when a timer fires, so code that wants to push a
/// deadline later (every byte of progress on a stream) can simply record the time and let an
/// early firing re-arm: no unlink/link per read.
public struct TimerWheel {
    public static let none: Int32 = -1

    public let tickMilliseconds: Int64
    private let mask: Int
    private var heads: [Int32]
    private var nonEmpty: [UInt64]
    private var next: [Int32] = []
    private var previous: [Int32] = []
    private var bucketOf: [Int32] = []
    private var deadlines: [Int64] = []
    /// The last tick whose bucket has been processed.
    private var processedTick: Int64
    public private(set) var armedCount = 0

    public init(bucketCount: Int = 1024, tickMilliseconds: Int64 = 10, now: Int64) {
        precondition(bucketCount.nonzeroBitCount == 1 && bucketCount >= 64, "bucket count must be a power of two ≥ 64")
        self.tickMilliseconds = tickMilliseconds
        self.mask = bucketCount - 1
        self.heads = [Int32](repeating: TimerWheel.none, count: bucketCount)
        self.nonEmpty = [UInt64](repeating: 0, count: bucketCount / 64)
        self.processedTick = now / tickMilliseconds
    }

    /// Makes room for timers on slots `0..<count`.
    public mutating func grow(to count: Int) {
        guard count > next.count else { return }
        let extra = count - next.count
        next.append(contentsOf: repeatElement(TimerWheel.none, count: extra))
        previous.append(contentsOf: repeatElement(TimerWheel.none, count: extra))
        bucketOf.append(contentsOf: repeatElement(TimerWheel.none, count: extra))
        deadlines.append(contentsOf: repeatElement(0, count: extra))
    }

    @inlinable
    public func deadline(of slot: Int32) -> Int64? {
        isArmed(slot) ? deadlineValue(slot) : nil
    }

    @usableFromInline
    func deadlineValue(_ slot: Int32) -> Int64 { deadlines[Int(slot)] }

    public func isArmed(_ slot: Int32) -> Bool { bucketOf[Int(slot)] != TimerWheel.none }

    /// Arms (or re-arms) the timer of `slot` to fire at `deadline` (monotonic milliseconds).
    public mutating func arm(_ slot: Int32, at deadline: Int64) {
        if bucketOf[Int(slot)] != TimerWheel.none {
            if deadlines[Int(slot)] == deadline { return }
            unlink(slot)
        }
        // Rounded up, so a timer never fires before its deadline; a deadline in the past fires at
        // the next tick.
        let tick = max(dueTick(deadline), processedTick + 1)
        let bucket = Int(tick) & mask
        deadlines[Int(slot)] = deadline
        bucketOf[Int(slot)] = Int32(bucket)
        previous[Int(slot)] = TimerWheel.none
        let head = heads[bucket]
        next[Int(slot)] = head
        if head != TimerWheel.none { previous[Int(head)] = slot }
        heads[bucket] = slot
        nonEmpty[bucket >> 6] |= 1 << UInt64(bucket & 63)
        armedCount += 1
    }

    public mutating func disarm(_ slot: Int32) {
        guard Int(slot) < bucketOf.count, bucketOf[Int(slot)] != TimerWheel.none else { return }
        unlink(slot)
    }

    private mutating func unlink(_ slot: Int32) {
        let bucket = Int(bucketOf[Int(slot)])
        let before = previous[Int(slot)]
        let after = next[Int(slot)]
        if before != TimerWheel.none { next[Int(before)] = after } else { heads[bucket] = after }
        if after != TimerWheel.none { previous[Int(after)] = before }
        if heads[bucket] == TimerWheel.none { nonEmpty[bucket >> 6] &= ~(1 << UInt64(bucket & 63)) }
        bucketOf[Int(slot)] = TimerWheel.none
        armedCount -= 1
    }

    /// The first tick at or after `deadline`.
    @inline(__always)
    private func dueTick(_ deadline: Int64) -> Int64 {
        (deadline + tickMilliseconds - 1) / tickMilliseconds
    }

    /// Collects the slots whose due tick is at or before `now`'s tick into `expired` (disarming them)
    /// and moves the wheel forward. The caller fires them afterwards, so a handler may re-arm
    /// its own timer safely.
    public mutating func advance(to now: Int64, expired: inout [Int32]) {
        let nowTick = now / tickMilliseconds
        guard nowTick > processedTick else { return }
        let bucketCount = Int64(mask + 1)
        let firstTick = nowTick - processedTick > bucketCount ? nowTick - bucketCount + 1 : processedTick + 1
        var tick = firstTick
        while tick <= nowTick {
            let bucket = Int(tick) & mask
            if nonEmpty[bucket >> 6] & (1 << UInt64(bucket & 63)) != 0 {
                var slot = heads[bucket]
                while slot != TimerWheel.none {
                    let following = next[Int(slot)]
                    // Due when its tick has come (its deadline rounded up to a tick, so never
                    // early); entries of later revolutions share the bucket and stay.
                    if dueTick(deadlines[Int(slot)]) <= nowTick {
                        unlink(slot)
                        expired.append(slot)
                    }
                    slot = following
                }
            }
            tick += 1
        }
        processedTick = nowTick
    }

    /// Milliseconds until the next non-empty bucket's tick (capped at one revolution), or nil
    /// when no timer is armed. An entry of a later revolution may make the loop wake up early
    /// and find nothing due, which is harmless.
    public func millisecondsUntilNextTick(now: Int64) -> Int64? {
        guard armedCount > 0 else { return nil }
        let bucketCount = mask + 1
        let startTick = processedTick + 1
        var offset = 0
        while offset < bucketCount {
            let bucket = Int(startTick + Int64(offset)) & mask
            let word = nonEmpty[bucket >> 6] >> UInt64(bucket & 63)
            if word != 0 {
                offset += word.trailingZeroBitCount
                break
            }
            offset += 64 - (bucket & 63)
        }
        let tick = startTick + Int64(min(offset, bucketCount - 1))
        return max(0, tick * tickMilliseconds - now)
    }
}

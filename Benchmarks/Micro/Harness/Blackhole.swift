import CDevmeshAllocCounter

/// Optimisation barriers for the measured loops.
///
/// A release build inlines across modules of this package (cross-module optimisation), so a
/// loop whose result is never used may be shortened or removed altogether, and work that does
/// not depend on the loop variable may be hoisted out of it. Passing each operation's result
/// to a C function the Swift optimizer cannot see into forbids both: the value must exist, and
/// the call may read any memory, so every write the operation made must have happened. The
/// cost is one direct call (about 1 ns, a handful of instructions) per operation.
@inline(__always)
func blackhole(_ value: Int) {
    CDevmeshAllocCounter_consume(UInt64(truncatingIfNeeded: value))
}

@inline(__always)
func blackhole(_ value: UInt64) {
    CDevmeshAllocCounter_consume(value)
}

/// Marks the memory behind `pointer` as read (for results written in place, such as a
/// rewritten head).
@inline(__always)
func blackhole(_ pointer: UnsafeRawPointer?) {
    CDevmeshAllocCounter_consumePointer(pointer)
}

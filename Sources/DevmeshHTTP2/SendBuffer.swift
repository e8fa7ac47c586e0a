/// The bounded output buffer of one stream: bytes `submitData` accepted and the DATA provider
/// has not sent yet. Its memory is a chunk from the session's `ChunkPool`, held only while the
/// buffer is not empty.
///
/// Layout: `[consumed][start ..< end: pending][end ..< capacity: free]`. Appending compacts
/// (moves the pending bytes to the front) only when the free tail is too short.
struct SendBuffer {
    var base: UnsafeMutableRawPointer?
    var start = 0
    var end = 0

    @inline(__always) var count: Int { end - start }
    @inline(__always) var isEmpty: Bool { start == end }

    /// Copies as much of `bytes` as fits in a buffer of `capacity` bytes; returns the count.
    /// `base` must be set.
    mutating func append(_ bytes: UnsafeRawBufferPointer, capacity: Int) -> Int {
        guard let base, let source = bytes.baseAddress else { return 0 }
        if capacity - end < bytes.count && start > 0 {
            // SAFETY: start..<end lies inside the chunk; memmove handles the overlap.
            (base).copyMemory(from: base + start, byteCount: end - start)
            end -= start
            start = 0
        }
        let taken = min(bytes.count, capacity - end)
        // SAFETY: end + taken <= capacity, the size of the chunk `base` points to.
        (base + end).copyMemory(from: source, byteCount: taken)
        end += taken
        return taken
    }

    /// The first `count` pending bytes (count <= self.count).
    @inline(__always)
    func pending(_ count: Int) -> UnsafeRawPointer {
        // SAFETY: callers pass count <= end - start; base is set while bytes are pending.
        UnsafeRawPointer(base! + start)
    }

    @inline(__always)
    mutating func drop(_ count: Int) {
        start += count
        if start == end {
            start = 0
            end = 0
        }
    }
}

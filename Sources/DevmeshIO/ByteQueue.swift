/// Bytes one side of an exchange produced that the other side could not take yet (an HTTP/2
/// stream's send buffer was full, an upstream connection is still connecting), kept in chunks
/// from the worker's pool.
///
/// Bounded: at most `maxChunks` chunks. Flow control keeps the queue well inside that bound (a
/// peer can never have more unacknowledged bytes in flight than the receive window, 64 KiB by
/// default); `append` reports what did not fit rather than growing.
public struct ByteQueue {
    public static let maxChunks = 8
    private var chunks = InlineArray<8, IOBuffer?>(repeating: nil)
    private var head = 0
    private var used = 0
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Appends as many bytes as fit; returns how many.
    public mutating func append(_ bytes: UnsafeRawBufferPointer, pool: BufferPool) -> Int {
        var offset = 0
        while offset < bytes.count {
            if used == 0 || chunks[(head + used - 1) % Self.maxChunks]!.freeSpace == 0 {
                guard used < Self.maxChunks else { break }
                chunks[(head + used) % Self.maxChunks] = pool.take()
                used += 1
            }
            let index = (head + used - 1) % Self.maxChunks
            var tail = chunks[index]!
            let take = min(tail.freeSpace, bytes.count - offset)
            // SAFETY: `take` bytes fit in the chunk's free space and exist in `bytes` from `offset`.
            (tail.base + tail.end).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
            tail.end += take
            chunks[index] = tail
            offset += take
        }
        count += offset
        return offset
    }

    /// The first contiguous run of queued bytes (empty when the queue is).
    public var front: UnsafeRawBufferPointer {
        guard used > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return chunks[head]!.validBytes
    }

    /// Drops `byteCount` bytes from the front (at most `front.count`).
    public mutating func removeFront(_ byteCount: Int, pool: BufferPool) {
        guard used > 0, byteCount > 0 else { return }
        var first = chunks[head]!
        let drop = min(byteCount, first.count)
        first.start += drop
        count -= drop
        if first.isEmpty {
            pool.give(first)
            chunks[head] = nil
            head = (head + 1) % Self.maxChunks
            used -= 1
        } else {
            chunks[head] = first
        }
    }

    /// Gives every chunk back (the exchange ended).
    public mutating func removeAll(pool: BufferPool) {
        while used > 0 {
            pool.give(chunks[head]!)
            chunks[head] = nil
            head = (head + 1) % Self.maxChunks
            used -= 1
        }
        count = 0
        head = 0
    }
}

/// Memory the HTTP/2 sessions of one worker thread share: the chunks that back stream send
/// buffers, and the free lists nghttp2's own allocations are recycled through
/// (`NghttpAllocator`). Sharing them across connections lets a worker keep enough idle memory
/// for bursts of concurrent streams without every connection pinning its own: a chunk is held by
/// a stream only while it has bytes waiting to be sent.
///
/// Not thread-safe: one pool per worker (or per session, the default). A session keeps its pool
/// alive.
public final class HTTP2BufferPool {
    /// Size of one chunk, bytes: the capacity of a stream's send buffer.
    public let chunkBytes: Int
    /// Free chunks kept for reuse; beyond this, returned chunks are freed.
    public let maxIdleChunks: Int
    /// Chunks lent to streams right now (a gauge for metrics and leak tests).
    public private(set) var chunksInUse = 0
    private var free: [UnsafeMutableRawPointer] = []
    let allocator: NghttpAllocator

    /// `maxIdleBlocksPerSize`: free nghttp2 blocks kept per size class (64 B ... 4 KiB).
    public init(chunkBytes: Int = HTTP2Settings.defaultStreamSendBufferBytes, maxIdleChunks: Int = 64,
                maxIdleBlocksPerSize: Int = 256) {
        precondition(chunkBytes >= 1024 && maxIdleChunks >= 0 && maxIdleBlocksPerSize >= 0)
        self.chunkBytes = chunkBytes
        self.maxIdleChunks = maxIdleChunks
        allocator = NghttpAllocator(maxIdlePerClass: maxIdleBlocksPerSize)
        free.reserveCapacity(maxIdleChunks)
    }

    /// Calls to `malloc` made for nghttp2 since the pool was created (blocks recycled through
    /// the free lists do not count).
    public var nghttp2SystemAllocations: Int { allocator.systemAllocations }

    deinit {
        for chunk in free { chunk.deallocate() }
    }

    func take() -> UnsafeMutableRawPointer {
        chunksInUse += 1
        if let chunk = free.popLast() { return chunk }
        return UnsafeMutableRawPointer.allocate(byteCount: chunkBytes, alignment: 16)
    }

    func give(_ chunk: UnsafeMutableRawPointer) {
        chunksInUse -= 1
        if free.count < maxIdleChunks {
            free.append(chunk)
        } else {
            chunk.deallocate()
        }
    }
}

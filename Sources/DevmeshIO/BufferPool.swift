import CDevmeshLinux
import Glibc

/// A chunk of memory on loan from a worker's `BufferPool`, with the window of valid bytes.
///
/// Layout: `[headroom][consumed][start ..< end: valid bytes][end ..< capacity: free]`.
/// Reads land at `headroom`, so a codec can grow a head backwards (insert a header line) without
/// moving the body that follows it.
public struct IOBuffer {
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    /// First valid byte.
    public var start: Int
    /// One past the last valid byte.
    public var end: Int

    @inlinable public var count: Int { end - start }
    @inlinable public var isEmpty: Bool { start == end }
    @inlinable public var freeSpace: Int { capacity - end }

    @inlinable
    public var validBytes: UnsafeRawBufferPointer {
        // SAFETY: start <= end <= capacity is kept by every mutation in this file and the codecs.
        UnsafeRawBufferPointer(start: base + start, count: end - start)
    }

    @inlinable
    public func bytes(from lower: Int, to upper: Int) -> UnsafeRawBufferPointer {
        // SAFETY: callers pass offsets inside [0, end].
        UnsafeRawBufferPointer(start: base + lower, count: upper - lower)
    }
}

/// Fixed-size chunks handed out and taken back by one worker (never shared between threads).
///
/// Chunks are carved from slabs allocated in batches and never freed while the worker runs, so
/// the steady-state request path does no malloc. A connection holds a chunk only while it has
/// bytes in flight; an idle keep-alive connection holds none, which is what keeps memory per idle
/// connection near the size of the connection object.
///
/// Heads larger than a chunk (up to the configured head limit) move into a "large" buffer from a
/// small separate free list; they are rare, so large buffers are malloc'd on demand and at most
/// `maxIdleLarge` are kept.
public final class BufferPool {
    public let chunkSize: Int
    public private(set) var largeSize: Int
    public let headroom: Int
    private let chunksPerSlab: Int
    private var freeChunks: [UnsafeMutableRawPointer] = []
    private var freeLarge: [UnsafeMutableRawPointer] = []
    private var slabs: [UnsafeMutableRawPointer] = []
    private let maxIdleLarge = 8

    /// Chunks currently lent out (a gauge for /metrics and leak tests).
    public private(set) var chunksInUse = 0
    public private(set) var largeInUse = 0

    public init(chunkSize: Int = 16 * 1024, largeSize: Int, headroom: Int = 128, chunksPerSlab: Int = 64) {
        precondition(headroom < chunkSize / 4, "headroom must leave room for data")
        self.chunkSize = chunkSize
        self.largeSize = max(largeSize, chunkSize)
        self.headroom = headroom
        self.chunksPerSlab = chunksPerSlab
        freeChunks.reserveCapacity(chunksPerSlab * 4)
    }

    deinit {
        for slab in slabs { free(slab) }
        for chunk in freeLarge { free(chunk) }
    }

    /// An empty standard chunk, positioned after the headroom.
    public func take() -> IOBuffer {
        IOBuffer(base: takeChunk(), capacity: chunkSize, start: headroom, end: headroom)
    }

    private func takeChunk() -> UnsafeMutableRawPointer {
        if freeChunks.isEmpty { growSlab() }
        chunksInUse += 1
        return freeChunks.removeLast()
    }

    /// Moves the valid bytes of `buffer` into a large buffer (for a head that outgrew a chunk) and
    /// returns the chunk to the pool.
    public func enlarge(_ buffer: IOBuffer) -> IOBuffer {
        let memory: UnsafeMutableRawPointer
        if let reused = freeLarge.popLast() {
            memory = reused
        } else {
            guard let fresh = malloc(largeSize) else { fatalError("devmesh: out of memory for a large buffer") }
            memory = fresh
        }
        largeInUse += 1
        let count = buffer.count
        // SAFETY: count <= chunkSize - headroom < largeSize - headroom.
        (memory + headroom).copyMemory(from: buffer.base + buffer.start, byteCount: count)
        give(buffer)
        return IOBuffer(base: memory, capacity: largeSize, start: headroom, end: headroom + count)
    }

    /// Takes a buffer back. The caller must drop every copy of it.
    public func give(_ buffer: IOBuffer) {
        if buffer.capacity == chunkSize {
            chunksInUse -= 1
            freeChunks.append(buffer.base)
        } else {
            largeInUse -= 1
            if buffer.capacity == largeSize && freeLarge.count < maxIdleLarge {
                freeLarge.append(buffer.base)
            } else {
                free(buffer.base)
            }
        }
    }

    /// Changes the size of large buffers (a reload changed the head limit). Idle large buffers
    /// are freed; ones still lent out are freed when they come back.
    public func setLargeSize(_ size: Int) {
        let size = max(size, chunkSize)
        guard size != largeSize else { return }
        for buffer in freeLarge { free(buffer) }
        freeLarge.removeAll()
        largeSize = size
    }

    private func growSlab() {
        guard let slab = malloc(chunkSize * chunksPerSlab) else {
            fatalError("devmesh: out of memory growing the buffer pool")
        }
        slabs.append(slab)
        for index in stride(from: chunksPerSlab - 1, through: 0, by: -1) {
            freeChunks.append(slab + index * chunkSize)
        }
    }

    /// Bytes the pool has taken from the system (slabs plus idle and lent large buffers).
    public var reservedBytes: Int {
        slabs.count * chunksPerSlab * chunkSize + (freeLarge.count + largeInUse) * largeSize
    }
}

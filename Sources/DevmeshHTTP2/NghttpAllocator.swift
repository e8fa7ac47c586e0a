internal import CNghttp2
internal import Glibc

/// Serves nghttp2's own allocations (streams, outbound frame items, copied header lists, decoded
/// header strings) from per-size free lists, so an exchange that reuses memory freed by an
/// earlier one calls no `malloc`. Measured before it existed: 9 `malloc` calls per
/// request/response exchange, all inside nghttp2.
///
/// Blocks carry a 16-byte header in front of what nghttp2 sees: the size class (or
/// `largeClass`) and the usable size. Sizes up to 4 KiB are rounded up to a power-of-two class
/// and recycled; larger ones (nghttp2's 16 KiB frame buffer, once per session) go straight to
/// `malloc`. A free block keeps the next free block's address in its first payload bytes, so the
/// lists need no storage of their own. At most `maxIdlePerClass` free blocks are kept per class.
///
/// Confined to one thread, like the sessions that use it (it belongs to an `HTTP2BufferPool`).
final class NghttpAllocator {
    private static let classCount = 7
    private static let smallestClassShift = 6 // 64 bytes
    private static let largeClass: UInt32 = 0xffff
    private static let headerBytes = 16

    private let maxIdlePerClass: Int
    /// Head of each class's free list, and how many blocks it holds.
    private let heads: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let idleCounts: UnsafeMutablePointer<Int>
    /// Calls that reached `malloc` (for tests and the allocation budget).
    private(set) var systemAllocations = 0
    /// Of those, blocks over the largest class (freed straight back to the system).
    private(set) var largeAllocations = 0

    /// Recycled blocks waiting in the free lists (for tests: with nothing freed to the system,
    /// `systemAllocations - largeAllocations - idleBlocks` blocks are still in use).
    var idleBlocks: Int {
        (0..<NghttpAllocator.classCount).reduce(0) { $0 + idleCounts[$1] }
    }

    init(maxIdlePerClass: Int) {
        self.maxIdlePerClass = maxIdlePerClass
        heads = .allocate(capacity: NghttpAllocator.classCount)
        heads.initialize(repeating: nil, count: NghttpAllocator.classCount)
        idleCounts = .allocate(capacity: NghttpAllocator.classCount)
        idleCounts.initialize(repeating: 0, count: NghttpAllocator.classCount)
    }

    deinit {
        for sizeClass in 0..<NghttpAllocator.classCount {
            var block = heads[sizeClass]
            while let current = block {
                block = (current + NghttpAllocator.headerBytes).load(as: UnsafeMutableRawPointer?.self)
                Glibc.free(current)
            }
        }
        heads.deallocate()
        idleCounts.deallocate()
    }

    /// The allocator table nghttp2 copies into a session.
    func table() -> nghttp2_mem {
        nghttp2_mem(
            mem_user_data: Unmanaged.passUnretained(self).toOpaque(),
            malloc: { size, userData in
                withAllocator(userData) { $0.allocate(size) }
            },
            free: { pointer, userData in
                // nghttp2 frees NULL about ten times per exchange: answered before any lookup.
                guard let pointer else { return }
                withAllocator(userData) { $0.release(pointer) }
            },
            calloc: { count, size, userData in
                let (total, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, let pointer = withAllocator(userData, { $0.allocate(total) }) else { return nil }
                memset(pointer, 0, total)
                return pointer
            },
            realloc: { pointer, size, userData in
                withAllocator(userData) { $0.reallocate(pointer, size) }
            })
    }

    @inline(__always)
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let sizeClass = NghttpAllocator.sizeClass(for: size)
        if sizeClass < NghttpAllocator.classCount, let block = heads[sizeClass] {
            // SAFETY: sizeClass < classCount, the length of both arrays; a free block's first
            // payload bytes hold the next free block (see release).
            heads[sizeClass] = (block + NghttpAllocator.headerBytes).load(as: UnsafeMutableRawPointer?.self)
            idleCounts[sizeClass] -= 1
            return block + NghttpAllocator.headerBytes
        }
        let usable = sizeClass < NghttpAllocator.classCount ? NghttpAllocator.classBytes(sizeClass) : size
        guard let block = Glibc.malloc(NghttpAllocator.headerBytes + usable) else { return nil }
        systemAllocations += 1
        if sizeClass >= NghttpAllocator.classCount { largeAllocations += 1 }
        block.storeBytes(of: sizeClass < NghttpAllocator.classCount ? UInt32(sizeClass) : NghttpAllocator.largeClass,
                         as: UInt32.self)
        block.storeBytes(of: usable, toByteOffset: 8, as: Int.self)
        return block + NghttpAllocator.headerBytes
    }

    @inline(__always)
    func release(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        let block = pointer - NghttpAllocator.headerBytes
        // SAFETY: every pointer nghttp2 frees came from `allocate`, 16 bytes past its header.
        let sizeClass = Int(block.load(as: UInt32.self))
        guard sizeClass < NghttpAllocator.classCount, idleCounts[sizeClass] < maxIdlePerClass else {
            Glibc.free(block)
            return
        }
        // SAFETY: every class holds at least 64 payload bytes, room for the link.
        pointer.storeBytes(of: heads[sizeClass], as: UnsafeMutableRawPointer?.self)
        heads[sizeClass] = block
        idleCounts[sizeClass] += 1
    }

    func reallocate(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
        guard let pointer else { return allocate(size) }
        let usable = (pointer - NghttpAllocator.headerBytes).load(fromByteOffset: 8, as: Int.self)
        if size <= usable { return pointer }
        guard let moved = allocate(size) else { return nil }
        moved.copyMemory(from: pointer, byteCount: usable)
        release(pointer)
        return moved
    }

    // MARK: Size classes

    /// 0 for up to 64 bytes, 1 for up to 128, ... 6 for up to 4096; `classCount` beyond.
    @inline(__always)
    static func sizeClass(for size: Int) -> Int {
        if size <= 64 { return 0 }
        let bits = Int.bitWidth - (size - 1).leadingZeroBitCount // ceil(log2(size))
        return min(bits - smallestClassShift, classCount)
    }

    @inline(__always)
    static func classBytes(_ sizeClass: Int) -> Int { 1 << (sizeClass + smallestClassShift) }
}

/// The allocator behind nghttp2's `mem_user_data`, unretained: the pool that owns it outlives
/// every session created with it (a session holds its pool).
@inline(__always)
private func withAllocator<R>(_ userData: UnsafeMutableRawPointer?, _ body: (NghttpAllocator) -> R) -> R {
    Unmanaged<NghttpAllocator>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
}

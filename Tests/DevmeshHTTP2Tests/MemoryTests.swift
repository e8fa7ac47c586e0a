@testable import DevmeshHTTP2
import XCTest

/// The allocation budget: once a connection has reached its working set, exchanges recycle
/// memory (nghttp2's through the free lists, stream buffers through the pool) instead of calling
/// malloc, and every chunk comes back.
final class MemoryTests: XCTestCase {
    func testSteadyStateExchangesCallNoMallocForNghttp2() {
        let pool = HTTP2BufferPool()
        let server = HTTP2Session(role: .server, bufferPool: pool)
        let client = HTTP2Session(role: .client, bufferPool: pool)
        let pair = SessionPair(server: server, client: client)
        pair.serverEvents.onHeaders = { session, id, _, _, _ in
            session.respond(id, [Field(":status", "200"), Field("content-type", "text/plain")], endStream: false)
            _ = session.send(id, pattern(100), endStream: true)
        }
        func round() {
            for _ in 0..<32 { pair.request(getRequest("/api/items", extra: [Field("baggage", "sd-routing-key=k1")]), endStream: true) }
            pair.pump()
        }
        for _ in 0..<10 { round() }
        let before = pool.nghttp2SystemAllocations
        for _ in 0..<20 { round() }
        XCTAssertEqual(pool.nghttp2SystemAllocations, before, "640 exchanges after warm-up")
        XCTAssertEqual(pair.clientEvents.events.filter { if case .closed(_, .finished) = $0 { true } else { false } }.count, 960)
        XCTAssertEqual(pool.chunksInUse, 0)
    }

    func testAllocatorSizeClassesAndReallocation() {
        // (requested bytes, expected class)
        for (size, sizeClass) in [(0, 0), (1, 0), (64, 0), (65, 1), (128, 1), (129, 2), (4096, 6), (4097, 7), (20_000, 7)] {
            XCTAssertEqual(NghttpAllocator.sizeClass(for: size), sizeClass, "\(size)")
        }
        let allocator = NghttpAllocator(maxIdlePerClass: 2)
        let first = allocator.allocate(100)!
        allocator.release(first)
        XCTAssertEqual(allocator.allocate(120), first, "a freed block of the class is reused")
        XCTAssertEqual(allocator.systemAllocations, 1)
        // realloc keeps the bytes, in place while they fit the class.
        first.initializeMemory(as: UInt8.self, repeating: 0xab, count: 120)
        XCTAssertEqual(allocator.reallocate(first, 128), first)
        let grown = allocator.reallocate(first, 5000)!
        XCTAssertNotEqual(grown, first)
        XCTAssertTrue(UnsafeRawBufferPointer(start: grown, count: 120).allSatisfy { $0 == 0xab })
        allocator.release(grown)
        // At most two idle blocks per class are kept: the third comes from malloc again.
        let blocks = (0..<3).map { _ in allocator.allocate(64)! }
        let mallocs = allocator.systemAllocations
        blocks.forEach(allocator.release)
        let again = (0..<3).map { _ in allocator.allocate(64)! }
        XCTAssertEqual(allocator.systemAllocations, mallocs + 1)
        again.forEach(allocator.release)
    }
}

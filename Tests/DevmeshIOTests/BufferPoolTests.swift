import DevmeshIO
import XCTest

final class BufferPoolTests: XCTestCase {
    func testChunksAreReusedWithoutGrowing() {
        let pool = BufferPool(chunkSize: 4096, largeSize: 16_384, headroom: 64, chunksPerSlab: 4)
        let first = (0..<4).map { _ in pool.take() }
        let reserved = pool.reservedBytes
        XCTAssertEqual(pool.chunksInUse, 4)
        for buffer in first { pool.give(buffer) }
        let again = (0..<4).map { _ in pool.take() }
        XCTAssertEqual(pool.reservedBytes, reserved, "a take after a give must not allocate a slab")
        XCTAssertEqual(Set(again.map(\.base)), Set(first.map(\.base)))
        for buffer in again { pool.give(buffer) }
        XCTAssertEqual(pool.chunksInUse, 0)
    }

    func testFreshBufferStartsAfterHeadroom() {
        let pool = BufferPool(chunkSize: 4096, largeSize: 8192, headroom: 64)
        let buffer = pool.take()
        XCTAssertEqual(buffer.start, 64)
        XCTAssertEqual(buffer.end, 64)
        XCTAssertEqual(buffer.freeSpace, 4096 - 64)
        pool.give(buffer)
    }

    func testEnlargeKeepsBytesAndReturnsTheChunk() {
        let pool = BufferPool(chunkSize: 4096, largeSize: 65_536, headroom: 64)
        var buffer = pool.take()
        let text = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8)
        text.withUnsafeBytes { (buffer.base + buffer.end).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        buffer.end += text.count
        let large = pool.enlarge(buffer)
        XCTAssertEqual(pool.chunksInUse, 0)
        XCTAssertEqual(pool.largeInUse, 1)
        XCTAssertEqual(large.capacity, 65_536)
        XCTAssertEqual(Array(large.validBytes), text)
        pool.give(large)
        XCTAssertEqual(pool.largeInUse, 0)
    }
}

@testable import DevmeshHTTP2
import XCTest

/// A field HPACK sends again from the dynamic table is not checked again (`KnownFieldCache`):
/// it must still be delivered, still count as a regular field for the ordering of
/// pseudo-headers, and never vouch for a different field.
final class KnownFieldCacheTests: XCTestCase {
    /// RFC 7541 §6.2.1: a literal with incremental indexing, new name (enters the dynamic table
    /// at index 62, the first after the 61 static entries).
    private func indexedLiteral(_ name: String, _ value: String) -> [UInt8] {
        [0x40] + RawFrame.string(name) + RawFrame.string(value)
    }

    /// RFC 7541 §6.1: the field at `index`.
    private func indexed(_ index: Int) -> [UInt8] {
        RawFrame.integer(index, prefixBits: 7, firstByte: 0x80)
    }

    private func request(_ stream: UInt32, _ extra: [UInt8]) -> [UInt8] {
        RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders | RawFrame.endStream, stream: stream,
                       RawFrame.requestBlock() + extra)
    }

    private func headersOnly(_ stream: UInt32, _ block: [UInt8]) -> [UInt8] {
        RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders | RawFrame.endStream, stream: stream, block)
    }

    func testRepeatedFieldsAreJudgedAsBefore() {
        let script = request(1, indexedLiteral("x-a", "1"))
            + request(3, indexed(62)) // the same field again, from the table: remembered
            + request(5, RawFrame.literal(name: "x-a", value: "1\u{0}")) // same name, bad value
            + headersOnly(7, [0x82, 0x86] + RawFrame.literal(nameIndex: 1, value: "svc.local") + indexed(62)
                + RawFrame.literal(nameIndex: 4, value: "/")) // :path (its first) after the known field
            + request(9, indexed(62) + indexed(62)) // twice in one block: still fine
        let ours = observe(.server, script, library: false)
        XCTAssertEqual(ours, observe(.server, script, library: true), "differs from nghttp2's checks")
        let delivered = ours.events.compactMap { event -> HTTP2StreamID? in
            if case let .headers(id, .request, fields, _) = event, fields.last == Field("x-a", "1") { id } else { nil }
        }
        XCTAssertEqual(delivered, [HTTP2StreamID(1), HTTP2StreamID(3), HTTP2StreamID(9)])
        XCTAssertEqual(ours.resets[5], [HTTP2ErrorCode.protocolError.rawValue], "a bad value under a known name")
        XCTAssertEqual(ours.resets[7], [HTTP2ErrorCode.protocolError.rawValue], "pseudo-header after a known field")
        XCTAssertEqual(ours.counters.invalidHeaderFields, 1)
        XCTAssertEqual(ours.counters.invalidFrames, 2)
    }

    /// The cache holds references into nghttp2's memory: a session that remembered fields must
    /// give every block back to its pool when it goes away.
    func testRememberedFieldsAreReleasedWithTheSession() {
        // Enough idle room per size class that no small block goes back to the system: then every
        // block malloc handed out is either idle again or still held.
        let pool = HTTP2BufferPool(chunkBytes: HTTP2Settings().streamSendBufferBytes, maxIdleChunks: 4,
                                   maxIdleBlocksPerSize: 10_000)
        let allocator = pool.allocator
        func inUse() -> Int { allocator.systemAllocations - allocator.largeAllocations - allocator.idleBlocks }
        do {
            let session = HTTP2Session(role: .server, settings: HTTP2Settings(), bufferPool: pool)
            let recorder = Recorder()
            session.delegate = recorder
            // Ten fields remembered (each with its own table entry), then sent again.
            var first: [UInt8] = [], again: [UInt8] = []
            for index in 0..<10 {
                first += indexedLiteral("x-f\(index)", "v")
                again += indexed(62 + index)
            }
            let script = RawFrame.clientStart + request(1, first) + request(3, again)
            _ = script.withUnsafeBytes { session.receive($0, now: 1_000) }
            XCTAssertEqual(recorder.openedStreams, [HTTP2StreamID(1), HTTP2StreamID(3)])
            XCTAssertGreaterThan(inUse(), 0)
        }
        XCTAssertEqual(inUse(), 0, "a reference was kept after the session went away")
    }
}

import DevmeshHTTP2
import XCTest

/// Flood protections, fed hand-made frames (reliability.md §2–3). Each abuse fails the
/// connection with a typed reason and a GOAWAY(ENHANCE_YOUR_CALM); the well-behaved variant of
/// each pattern does not.
final class AbuseTests: XCTestCase {
    private func expectFailure(_ raw: RawServer, _ outcome: HTTP2ReceiveOutcome, _ reason: HTTP2ConnectionError.Reason,
                               _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(outcome, .failed(HTTP2ConnectionError(code: .enhanceYourCalm, reason: reason)), message,
                       file: file, line: line)
        raw.flush()
        XCTAssertEqual(raw.goAway?.errorCode, HTTP2ErrorCode.enhanceYourCalm.rawValue, message, file: file, line: line)
        XCTAssertTrue(raw.session.isFinished, message, file: file, line: line)
    }

    func testEmptyFrameFlood() {
        let open = RawFrame.requestHeaders(stream: 1, endStream: false)
        let emptyData = RawFrame.frame(RawFrame.data, stream: 1)
        let data = RawFrame.frame(RawFrame.data, stream: 1, [1, 2, 3])
        let paddingOnly = RawFrame.frame(RawFrame.data, flags: RawFrame.padded, stream: 1, [4, 0, 0, 0, 0])
        // (frames after opening stream 1, fails?)
        let cases: [(String, [UInt8], Bool)] = [
            ("two empty DATA in a row", emptyData + emptyData, true),
            ("empty, data, empty", emptyData + data + emptyData, false),
            ("padding-only DATA twice", paddingOnly + paddingOnly, true),
            ("empty DATA with END_STREAM", emptyData + RawFrame.frame(RawFrame.data, flags: RawFrame.endStream, stream: 1), false),
        ]
        for (name, frames, fails) in cases {
            let raw = RawServer()
            raw.feed(RawFrame.clientStart + open)
            let outcome = raw.feed(frames)
            if fails {
                expectFailure(raw, outcome, .emptyFrameFlood, name)
            } else {
                XCTAssertEqual(outcome, .processed, name)
            }
        }
    }

    func testContinuationFlood() {
        let start = RawFrame.frame(RawFrame.headers, stream: 1, RawFrame.requestBlock())
        // Non-empty CONTINUATIONs: nghttp2's own limit (8 per block, CVE-2024-28182).
        var full = start
        for index in 0..<20 {
            full += RawFrame.frame(RawFrame.continuation, stream: 1, RawFrame.literal(name: "x-c\(index)", value: "v"))
        }
        var raw = RawServer()
        raw.feed(RawFrame.clientStart)
        expectFailure(raw, raw.feed(full), .continuationFlood, "non-empty")
        XCTAssertTrue(raw.events.events.isEmpty)
        // Empty CONTINUATIONs: our empty-frame count stops them before nghttp2's limit.
        var empty = start
        for _ in 0..<5 { empty += RawFrame.frame(RawFrame.continuation, stream: 1) }
        raw = RawServer()
        raw.feed(RawFrame.clientStart)
        expectFailure(raw, raw.feed(empty), .emptyFrameFlood, "empty")
        // At the limit, a block split over 8 CONTINUATIONs and fed one byte per receive call is
        // delivered whole (nghttp2 1.52 alone counted each piece of a frame header as a frame).
        let block = RawFrame.requestBlock(extra: [("x-split", "yes")])
        let pieces = HTTP2Settings.defaultMaxContinuationFrames
        var split = RawFrame.frame(RawFrame.headers, flags: RawFrame.endStream, stream: 1,
                                   Array(block[0..<block.count - pieces]))
        for index in (block.count - pieces)..<block.count {
            let flags = index == block.count - 1 ? RawFrame.endHeaders : 0
            split += RawFrame.frame(RawFrame.continuation, flags: flags, stream: 1, [block[index]])
        }
        raw = RawServer()
        raw.feed(RawFrame.clientStart)
        for byte in split { XCTAssertEqual(raw.feed([byte]), .processed) }
        XCTAssertEqual(raw.events.openedStreams, [HTTP2StreamID(1)])
        XCTAssertEqual(raw.events.headers(of: HTTP2StreamID(1), kind: .request)?.last, Field("x-split", "yes"))
    }

    /// PING (and SETTINGS) floods while the peer never reads our output: nghttp2 keeps at most
    /// `maxOutboundAcks` ACKs queued, then the connection fails. A peer that reads is fine.
    func testControlFrameFloodWithUnreadOutput() {
        let pings = (0..<1500).flatMap { RawFrame.pingFrame(UInt8(truncatingIfNeeded: $0)) }
        let settings = (0..<1500).flatMap { _ in RawFrame.frame(RawFrame.settings) }
        for (name, flood) in [("PING", pings), ("SETTINGS", settings)] {
            let raw = RawServer()
            raw.feed(RawFrame.clientStart)
            expectFailure(raw, raw.feed(flood), .controlFrameFlood, name)
            let acks = raw.frames.filter { ($0.type == RawFrame.ping || $0.type == RawFrame.settings)
                && $0.flags & RawFrame.ack != 0 }
            XCTAssertLessThanOrEqual(acks.count, HTTP2Settings.defaultMaxOutboundAcks, name)
        }
        let reader = RawServer()
        reader.feed(RawFrame.clientStart)
        for batch in stride(from: 0, to: pings.count, by: 17 * 100) {
            XCTAssertEqual(reader.feed(Array(pings[batch..<min(pings.count, batch + 17 * 100)])), .processed)
            reader.flush()
        }
        XCTAssertEqual(reader.frames.filter { $0.type == RawFrame.ping }.count, 1500)
    }

    /// Frames that nghttp2 answers (here RST_STREAM(PROTOCOL_ERROR) for malformed requests) pile
    /// up when output is not read: the outbound-queue cap ends it.
    func testOutboundQueueFlood() {
        for (count, fails) in [(50, false), (51, true)] {
            let raw = RawServer(settings: HTTP2Settings(maxOutboundQueuedFrames: 50))
            raw.feed(RawFrame.clientStart)
            raw.flush()
            var frames: [UInt8] = []
            for index in 0..<count {
                frames += RawFrame.requestHeaders(stream: UInt32(2 * index + 1), extra: [("Bad", "1")])
            }
            let outcome = raw.feed(frames)
            if fails {
                expectFailure(raw, outcome, .outboundQueueFlood, "\(count)")
            } else {
                XCTAssertEqual(outcome, .processed, "\(count)")
                XCTAssertEqual(raw.session.queuedFrameCount, count)
            }
        }
    }

    /// Rapid reset (CVE-2023-44487): streams opened and reset by the client right away. Over a
    /// sample of 100 closed streams, 50 % quick resets fail the connection; slower resets, or
    /// fewer of them, do not.
    func testRapidReset() {
        let settings = HTTP2Settings(rapidResetSampleStreams: 100, rapidResetPercent: 50,
                                     rapidResetLifetimeMilliseconds: 1000)
        // (streams, of which reset quickly, delay before a slow reset in ms, fails?)
        let cases: [(Int, Int, Int64, Bool)] = [
            (100, 100, 0, true),
            (100, 50, 0, true),
            (100, 49, 0, false),
            (100, 100, 1001, false),
        ]
        for (total, quick, delay, fails) in cases {
            let raw = RawServer(settings: settings)
            raw.events.onHeaders = { session, id, _, _, _ in
                // Streams that are not reset get answered, like a proxy would.
                if Int(id.rawValue) / 2 >= quick { session.respond(id, [Field(":status", "200")], endStream: true) }
            }
            raw.feed(RawFrame.clientStart)
            var outcome = HTTP2ReceiveOutcome.processed
            for index in 0..<total {
                let stream = UInt32(2 * index + 1)
                outcome = raw.feed(RawFrame.requestHeaders(stream: stream, endStream: index >= quick))
                if index < quick {
                    raw.now += delay
                    outcome = raw.feed(RawFrame.rst(stream))
                } else {
                    raw.flush()
                }
                if case .failed = outcome { break }
            }
            raw.flush()
            // A stream that completes closes while its response is produced: a failure found
            // then is recorded in `failure` (and returned by the next receive).
            if case .processed = outcome, let failure = raw.session.failure { outcome = .failed(failure) }
            let name = "\(quick)/\(total) after \(delay) ms"
            if fails {
                expectFailure(raw, outcome, .rapidReset, name)
                XCTAssertLessThanOrEqual(raw.events.openedStreams.count, 100, name)
            } else {
                XCTAssertEqual(outcome, .processed, name)
                XCTAssertEqual(raw.session.counters.quickResets, delay > 1000 ? 0 : quick, name)
            }
        }
    }

    /// More new streams in one receive than twice the concurrent limit (nginx's rule), even if
    /// each is reset at once.
    func testNewStreamBurstInOneReceive() {
        let settings = HTTP2Settings(maxConcurrentStreams: 10)
        for (count, fails) in [(20, false), (21, true)] {
            let raw = RawServer(settings: settings)
            raw.feed(RawFrame.clientStart)
            var frames: [UInt8] = []
            for index in 0..<count {
                let stream = UInt32(2 * index + 1)
                frames += RawFrame.requestHeaders(stream: stream, endStream: false) + RawFrame.rst(stream)
            }
            let outcome = raw.feed(frames)
            if fails {
                expectFailure(raw, outcome, .streamOpenBurst, "\(count)")
                XCTAssertEqual(raw.events.openedStreams.count, 20)
            } else {
                XCTAssertEqual(outcome, .processed, "\(count)")
            }
        }
    }

    func testCountersForMetrics() {
        let raw = RawServer()
        raw.feed(RawFrame.clientStart)
        raw.feed(RawFrame.requestHeaders(stream: 1, endStream: false) + RawFrame.rst(1)
            + RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders | RawFrame.endStream, stream: 3,
                             RawFrame.requestBlock(extra: [("Bad", "1")])))
        raw.flush()
        var expected = HTTP2Counters()
        expected.streamsOpened = 2
        expected.streamsResetByPeer = 1
        expected.streamsResetLocally = 1
        expected.quickResets = 1
        expected.invalidFrames = 1
        XCTAssertEqual(raw.session.counters, expected)
    }
}

import DevmeshHTTP2
import XCTest

/// Flow control tied to the other side's progress: windows open only on `consume`, stream
/// output is bounded, and bytes never consumed are credited back when a stream closes.
final class FlowControlTests: XCTestCase {
    /// A 1 MiB response to a client that consumes 8 KiB per round: the client never holds more
    /// than one stream window of unconsumed bytes, the server never buffers more than one stream
    /// buffer, and the body arrives intact.
    func testLargeBodyWithSlowConsumerStaysBounded() {
        let body = pattern(1 << 20, seed: 3)
        for (outputSize, split) in [(16 * 1024, Int.max), (3000, 777)] {
            let pair = SessionPair(outputSize: outputSize, splitSize: split)
            pair.clientEvents.consumeOnArrival = false
            var offset = 0
            var stream = HTTP2StreamID(0)
            let feed = { (session: HTTP2Session, id: HTTP2StreamID) in
                while offset < body.count {
                    let end = min(body.count, offset + 5000)
                    let result = body[offset..<end].withUnsafeBytes {
                        session.submitData(id, $0, endStream: end == body.count)
                    }
                    switch result {
                    case .accepted: offset = end
                    case let .partial(count): offset += count; return
                    case .streamClosed: XCTFail("closed"); return
                    }
                }
            }
            pair.serverEvents.onHeaders = { session, id, _, _, _ in
                stream = id
                session.respond(id, [Field(":status", "200")], endStream: false)
                feed(session, id)
            }
            pair.serverEvents.onCanSendMore = feed
            let id = pair.request(getRequest("/big"), endStream: true)
            var consumed = 0
            var maxUnconsumed = 0
            var maxServerBuffered = 0
            var rounds = 0
            while !pair.clientEvents.ended(id) && rounds < 2000 {
                rounds += 1
                pair.pump()
                let received = pair.clientEvents.body(of: id).count
                maxUnconsumed = max(maxUnconsumed, received - consumed)
                maxServerBuffered = max(maxServerBuffered, offset - received)
                let step = min(8192, received - consumed)
                pair.client.consume(id, byteCount: step)
                consumed += step
            }
            let context = "output \(outputSize), split \(split)"
            XCTAssertEqual(stream, id, context)
            assertBytes(pair.clientEvents.body(of: id), body, context)
            XCTAssertLessThanOrEqual(maxUnconsumed, HTTP2Settings.defaultInitialStreamWindowBytes, context)
            XCTAssertLessThanOrEqual(maxServerBuffered, HTTP2Settings.defaultStreamSendBufferBytes, context)
            XCTAssertGreaterThan(rounds, 100, "the consumer's pace set the rounds: \(context)")
            let updates = ParsedFrame.parse(pair.clientWire, skipPreface: true)
                .filter { $0.type == RawFrame.windowUpdate && $0.stream == UInt32(id.rawValue) }
            XCTAssertGreaterThan(updates.count, 10, context)
        }
    }

    /// submitData answers .partial once the stream buffer is full, and nothing more is accepted
    /// while the peer's window stays closed.
    func testSubmitDataIsBoundedWhileThePeerDoesNotRead() {
        let pair = SessionPair()
        pair.serverEvents.consumeOnArrival = false
        let id = pair.request(postRequest(), endStream: false)
        pair.pump()
        var accepted = 0
        var partial = false
        for _ in 0..<100 {
            switch pair.client.send(id, pattern(4096), endStream: false) {
            case .accepted: accepted += 4096
            case let .partial(count): accepted += count; partial = true
            case .streamClosed: XCTFail("closed")
            }
            pair.pump()
            if partial { break }
        }
        XCTAssertTrue(partial)
        let received = pair.serverEvents.body(of: id).count
        XCTAssertEqual(received, HTTP2Settings.defaultInitialStreamWindowBytes, "the window capped what went out")
        XCTAssertEqual(accepted - received, HTTP2Settings.defaultStreamSendBufferBytes, "one buffer's worth waits")
        XCTAssertEqual(pair.client.send(id, [1], endStream: false), .partial(0))
        // The server consumes: the window opens, the buffer drains, the client hears it can send.
        pair.server.consume(id, byteCount: received)
        pair.pump()
        XCTAssertTrue(pair.clientEvents.events.contains(.canSendMore(id)))
        XCTAssertEqual(pair.serverEvents.body(of: id).count, accepted)
    }

    /// Bytes delivered and never consumed are credited to the connection window when their stream
    /// closes, so dead streams cannot starve the connection.
    func testUnconsumedBytesOfClosedStreamsReturnToTheConnectionWindow() {
        let pair = SessionPair()
        pair.serverEvents.consumeOnArrival = false
        var stalled: [HTTP2StreamID] = []
        for _ in 0..<20 {
            let id = pair.request(postRequest(), endStream: false)
            _ = pair.client.send(id, pattern(16 * 1024), endStream: false)
            stalled.append(id)
        }
        for _ in 0..<10 {
            pair.pump()
            for id in stalled { _ = pair.client.send(id, pattern(16 * 1024), endStream: false) }
        }
        let delivered = stalled.reduce(0) { $0 + pair.serverEvents.body(of: $1).count }
        XCTAssertLessThanOrEqual(delivered, HTTP2Settings.defaultConnectionWindowBytes)
        XCTAssertGreaterThan(delivered, HTTP2Settings.defaultConnectionWindowBytes - 64 * 1024,
                             "the connection window is (nearly) exhausted")
        for id in stalled { pair.server.resetStream(id, code: .cancel) }
        pair.pump()
        // A fresh stream can move more than what was left of the window.
        pair.serverEvents.consumeOnArrival = true
        let fresh = pair.request(postRequest(), endStream: false)
        var sent = 0
        for _ in 0..<200 where sent < 300 * 1024 {
            if case .accepted = pair.client.send(fresh, pattern(8192), endStream: false) { sent += 8192 }
            pair.pump()
        }
        XCTAssertEqual(pair.serverEvents.body(of: fresh).count, sent)
        XCTAssertGreaterThanOrEqual(sent, 300 * 1024)
    }
}

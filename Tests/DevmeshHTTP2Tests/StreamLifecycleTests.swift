import DevmeshHTTP2
import XCTest

/// Resets, concurrency limits and GOAWAY, as each side reports them.
final class StreamLifecycleTests: XCTestCase {
    func testResetsInBothDirections() {
        // (who resets, code, what the resetting side reports, what the other side reports)
        let cases: [(Bool, HTTP2ErrorCode, HTTP2StreamCloseReason, HTTP2StreamCloseReason)] = [
            (true, .cancel, .resetLocally(.cancel), .resetByPeer(.cancel)),
            (false, .internalError, .resetLocally(.internalError), .resetByPeer(.internalError)),
            (false, .refusedStream, .refused, .refused),
        ]
        for (clientResets, code, resetterReason, peerReason) in cases {
            let pair = SessionPair()
            let id = pair.request(postRequest(), endStream: false)
            XCTAssertEqual(pair.client.send(id, pattern(100), endStream: false), .accepted)
            pair.pump()
            XCTAssertEqual(pair.serverEvents.body(of: id).count, 100)
            (clientResets ? pair.client : pair.server).resetStream(id, code: code)
            pair.pump()
            let (resetter, peer) = clientResets ? (pair.clientEvents, pair.serverEvents) : (pair.serverEvents, pair.clientEvents)
            XCTAssertEqual(resetter.closeReason(of: id), resetterReason, "\(code)")
            XCTAssertEqual(peer.closeReason(of: id), peerReason, "\(code)")
            XCTAssertEqual(pair.server.openStreamCount, 0)
            XCTAssertEqual(pair.client.openStreamCount, 0)
            XCTAssertFalse(withHeaderFields([Field(":status", "200")]) { pair.server.submitResponse(id, headers: $0, endStream: true) })
            XCTAssertEqual(pair.client.send(id, [1], endStream: true), .streamClosed)
        }
        XCTAssertTrue(HTTP2StreamCloseReason.refused.isRetrySafe)
    }

    func testResetFromInsideACallbackIsAppliedAfterReceive() {
        let pair = SessionPair()
        pair.serverEvents.onHeaders = { session, id, _, _, _ in session.resetStream(id, code: .refusedStream) }
        let id = pair.request(getRequest(), endStream: true)
        pair.pump()
        XCTAssertEqual(pair.clientEvents.closeReason(of: id), .refused)
        XCTAssertEqual(pair.serverEvents.closeReason(of: id), .refused)
    }

    func testClientRespectsThePeersConcurrentStreamLimit() {
        let pair = SessionPair(serverSettings: HTTP2Settings(maxConcurrentStreams: 3))
        XCTAssertEqual(pair.client.availableStreamSlots, 100, "100 until the server's SETTINGS arrive")
        pair.pump()
        XCTAssertEqual(pair.client.availableStreamSlots, 3)
        let ids = (0..<3).map { pair.request(getRequest("/\($0)"), endStream: true) }
        XCTAssertEqual(pair.client.availableStreamSlots, 0)
        XCTAssertNil(withHeaderFields(getRequest()) { pair.client.submitRequest(headers: $0, endStream: true) })
        pair.pump()
        XCTAssertEqual(pair.serverEvents.openedStreams, ids)
        pair.server.respond(ids[1], [Field(":status", "200")], endStream: true)
        pair.pump()
        XCTAssertEqual(pair.client.availableStreamSlots, 1)
        XCTAssertNotNil(withHeaderFields(getRequest()) { pair.client.submitRequest(headers: $0, endStream: true) })
        XCTAssertEqual(pair.client.availableStreamSlots, 0)
    }

    /// A client that ignores our MAX_CONCURRENT_STREAMS: before our SETTINGS are acknowledged
    /// nghttp2 refuses the extra stream (RST_STREAM REFUSED_STREAM); after, it treats the excess
    /// as a connection error (GOAWAY PROTOCOL_ERROR; RFC 9113 §5.1.2 allows either).
    func testServerAnswersStreamsOverItsLimit() {
        for acknowledged in [false, true] {
            let raw = RawServer(settings: HTTP2Settings(maxConcurrentStreams: 2))
            raw.flush()
            let start = acknowledged ? RawFrame.clientStart : RawFrame.preface + RawFrame.frame(RawFrame.settings)
            XCTAssertEqual(raw.feed(start), .processed)
            let outcome = raw.feed(RawFrame.requestHeaders(stream: 1, endStream: false)
                + RawFrame.requestHeaders(stream: 3, endStream: false)
                + RawFrame.requestHeaders(stream: 5, endStream: false))
            XCTAssertEqual(outcome, .processed)
            raw.flush()
            XCTAssertEqual(raw.events.openedStreams, [HTTP2StreamID(1), HTTP2StreamID(3)])
            if acknowledged {
                XCTAssertEqual(raw.goAway?.errorCode, HTTP2ErrorCode.protocolError.rawValue)
                XCTAssertEqual(raw.session.failure?.reason, .protocolViolation)
                XCTAssertTrue(raw.session.isFinished)
            } else {
                XCTAssertEqual(raw.resets(of: 5), [HTTP2ErrorCode.refusedStream.rawValue])
                XCTAssertNil(raw.goAway)
            }
        }
    }

    /// Graceful shutdown: GOAWAY(2^31-1) + PING, then, after the PING ACK, GOAWAY with the last
    /// stream processed. A request sent before the client saw the first GOAWAY still completes.
    func testGracefulTwoStepGoAway() {
        let pair = SessionPair()
        pair.serverEvents.onHeaders = { session, id, _, _, _ in
            session.respond(id, [Field(":status", "200")], endStream: true)
        }
        let first = pair.request(getRequest("/1"), endStream: true)
        pair.pump()
        XCTAssertEqual(pair.clientEvents.closeReason(of: first), .finished)
        pair.server.goAway(.noError, graceful: true)
        let notice = pair.drain(pair.server)
        pair.serverWire += notice
        // In flight while the notice travels: a new request.
        let late = pair.request(getRequest("/late"), endStream: true)
        pair.deliver(pair.drain(pair.client), to: pair.server, outcome: &pair.serverOutcome)
        pair.deliver(notice, to: pair.client, outcome: &pair.clientOutcome)
        XCTAssertEqual(pair.clientEvents.events.last, .goAway(.maximum, .noError))
        XCTAssertFalse(pair.server.isFinished, "waiting for the PING round trip")
        pair.pump()
        let goAways = ParsedFrame.parse(pair.serverWire).filter { $0.type == RawFrame.goAway }
        XCTAssertEqual(goAways.map(\.lastStreamID), [UInt32(Int32.max), UInt32(late.rawValue)])
        XCTAssertEqual(pair.clientEvents.closeReason(of: late), .finished)
        XCTAssertEqual(pair.clientEvents.events.filter { if case .goAway = $0 { true } else { false } },
                       [.goAway(.maximum, .noError), .goAway(late, .noError)])
        XCTAssertNil(withHeaderFields(getRequest()) { pair.client.submitRequest(headers: $0, endStream: true) })
        XCTAssertTrue(pair.server.isFinished)
        XCTAssertTrue(pair.client.isFinished)
    }

    /// Streams above the last-stream-id of a GOAWAY were not processed: the client reports them
    /// `.refused` (safe to retry) and the server never saw them.
    func testStreamsAboveLastStreamIDAreReportedRefused() {
        let pair = SessionPair()
        let kept = pair.request(getRequest("/kept"), endStream: true)
        pair.pump()
        pair.server.goAway(.noError, graceful: false)
        let goAway = pair.drain(pair.server)
        let lost = pair.request(getRequest("/lost"), endStream: true)
        pair.deliver(pair.drain(pair.client), to: pair.server, outcome: &pair.serverOutcome)
        pair.deliver(goAway, to: pair.client, outcome: &pair.clientOutcome)
        XCTAssertEqual(pair.clientEvents.closeReason(of: lost), .refused)
        XCTAssertEqual(pair.serverEvents.openedStreams, [kept])
        pair.server.respond(kept, [Field(":status", "200")], endStream: true)
        pair.pump()
        XCTAssertEqual(pair.clientEvents.closeReason(of: kept), .finished)
        XCTAssertTrue(pair.server.isFinished)
    }

    func testGoAwayWithAnErrorEndsTheConnection() {
        let pair = SessionPair()
        let id = pair.request(postRequest(), endStream: false)
        pair.pump()
        pair.server.goAway(.enhanceYourCalm, graceful: true)
        pair.pump()
        XCTAssertTrue(pair.clientEvents.events.contains(.goAway(id, .enhanceYourCalm)))
        XCTAssertTrue(pair.server.isFinished)
        XCTAssertNil(pair.server.failure, "a GOAWAY we chose is not a failure")
    }
}

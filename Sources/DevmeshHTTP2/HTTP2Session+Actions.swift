internal import CNghttp2
import DevmeshBytes

/// What the proxy asks the session to send. Each action is applied at once, or, when called from
/// inside a delegate callback (nghttp2 is running), queued and applied as soon as nghttp2 has
/// returned, in call order.
extension HTTP2Session {
    /// Server role: the response head for `stream`. Without `endStream`, the body follows through
    /// `submitData` (and possibly `submitTrailers`). Returns false when the stream is gone or a
    /// head was already submitted.
    @discardableResult
    public func submitResponse(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>,
                               endStream: Bool) -> Bool {
        guard failure == nil, let slot = slot(of: stream.rawValue), !streams[slot].headersSubmitted,
              !streams[slot].answeredLocally else { return false }
        streams[slot].headersSubmitted = true
        streams[slot].endRequested = endStream
        setHead(slot: slot, OwnedHeaderBlock(copying: headers, allocator: chunks.allocator))
        if isDispatching {
            deferred.append(.response(stream: stream.rawValue, slot: slot, endStream: endStream))
            return true
        }
        return submitResponseNow(stream.rawValue, slot: slot, endStream: endStream)
    }

    /// Submits the head block of `slot` as the response of stream `id`.
    func submitResponseNow(_ id: Int32, slot: Int, endStream: Bool) -> Bool {
        assert(!isDispatching, "nghttp2 re-entered from a callback")
        guard let head = streams[slot].head else { return false }
        var provider = NghttpCallbacks.dataProvider(slot: slot)
        let result = endStream
            ? nghttp2_submit_response(nghttp, id, head.entries, head.count, nil)
            : nghttp2_submit_response(nghttp, id, head.entries, head.count, &provider)
        if result == 0 && !endStream { streams[slot].provider = .active }
        return result == 0
    }

    /// Gives `slot` its head block (releasing one it had: only the session's own 431 answer can
    /// replace a head).
    private func setHead(slot: Int, _ block: OwnedHeaderBlock) {
        streams[slot].head?.release(to: chunks.allocator)
        streams[slot].head = block
    }

    /// Client role: opens a stream with this request head. Without `endStream`, the body follows
    /// through `submitData`. Returns nil when no stream may be opened now (the peer's or our
    /// concurrent-stream limit, `availableStreamSlots` == 0; GOAWAY received; a failed session;
    /// stream ids exhausted). Not callable from inside a delegate callback.
    public func submitRequest(headers: UnsafeBufferPointer<HeaderField>, endStream: Bool) -> HTTP2StreamID? {
        assert(!isDispatching, "submitRequest called from inside a delegate callback")
        guard !isDispatching, availableStreamSlots > 0 else { return nil }
        let slot = streams.allocate(id: 0)
        // The response rules depend on the method (a HEAD or CONNECT answer has no sized body).
        for field in headers where field.name.count == 7 && ASCII.equalsExactly(field.name, ":method") {
            streams[slot].message.recordRequestMethod(field.value)
            break
        }
        let head = OwnedHeaderBlock(copying: headers, allocator: chunks.allocator)
        var provider = NghttpCallbacks.dataProvider(slot: slot)
        let id = endStream
            ? nghttp2_submit_request(nghttp, nil, head.entries, head.count, nil, nil)
            : nghttp2_submit_request(nghttp, nil, head.entries, head.count, &provider, nil)
        guard id > 0 else {
            head.release(to: chunks.allocator)
            streams.release(slot)
            return nil
        }
        streams.assign(id: id, to: slot)
        streams[slot].head = head
        streams[slot].announced = true
        streams[slot].headersSubmitted = true
        streams[slot].endRequested = endStream
        streams[slot].provider = endStream ? .none : .active
        counters.streamsOpened += 1
        return HTTP2StreamID(id)
    }

    /// Queues body bytes on `stream` (copied into its bounded buffer). With `endStream`, the body
    /// ends after these bytes, provided they were all accepted.
    public func submitData(_ stream: HTTP2StreamID, _ bytes: UnsafeRawBufferPointer, endStream: Bool) -> HTTP2SendResult {
        guard failure == nil, let slot = slot(of: stream.rawValue), !streams[slot].answeredLocally else {
            return .streamClosed
        }
        assert(!streams[slot].endRequested, "submitData after the end of the stream's body")
        guard !streams[slot].endRequested else { return .streamClosed }
        var accepted = 0
        if !bytes.isEmpty {
            if streams[slot].send.base == nil { streams[slot].send.base = chunks.take() }
            accepted = streams[slot].send.append(bytes, capacity: chunks.chunkBytes)
        }
        let complete = accepted == bytes.count
        if complete && endStream { streams[slot].endRequested = true }
        if !complete { streams[slot].waitingForRoom = true }
        if accepted > 0 || streams[slot].endRequested { resumeProvider(slot: slot) }
        return complete ? .accepted : .partial(accepted)
    }

    /// Ends `stream`'s body with a trailer section, sent once the buffered bytes are out (gRPC
    /// status travels here). Returns false when the stream is gone or already ended.
    @discardableResult
    public func submitTrailers(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>) -> Bool {
        guard failure == nil, let slot = slot(of: stream.rawValue), streams[slot].headersSubmitted,
              !streams[slot].endRequested else { return false }
        streams[slot].trailers = OwnedHeaderBlock(copying: headers, allocator: chunks.allocator)
        streams[slot].endRequested = true
        resumeProvider(slot: slot)
        return true
    }

    private func resumeProvider(slot: Int) {
        guard streams[slot].provider == .deferred else { return }
        streams[slot].provider = .active
        if isDispatching {
            deferred.append(.resumeData(stream: streams[slot].id))
        } else {
            _ = nghttp2_session_resume_data(nghttp, streams[slot].id)
        }
    }

    /// Resets `stream` with RST_STREAM(code). Its buffered output is dropped; the delegate hears
    /// `streamDidClose(.resetLocally(code))` once the frame is produced.
    public func resetStream(_ stream: HTTP2StreamID, code: HTTP2ErrorCode) {
        guard failure == nil, slot(of: stream.rawValue) != nil else { return }
        if isDispatching {
            deferred.append(.reset(stream: stream.rawValue, code: code.rawValue))
        } else {
            _ = nghttp2_submit_rst_stream(nghttp, CNghttp2_FLAG_NONE, stream.rawValue, code.rawValue)
        }
    }

    /// Says the other side has taken `byteCount` bytes delivered for `stream`: they count again
    /// in the stream and connection receive windows (WINDOW_UPDATE follows when nghttp2 finds the
    /// increment worth sending). Consuming a closed stream's bytes is a no-op: the session
    /// credited them when it closed.
    public func consume(_ stream: HTTP2StreamID, byteCount: Int) {
        guard byteCount > 0, let slot = slot(of: stream.rawValue) else { return }
        let credited = min(byteCount, streams[slot].unconsumedBytes)
        guard credited > 0 else { return }
        streams[slot].unconsumedBytes -= credited
        if isDispatching {
            deferred.append(.consume(stream: stream.rawValue, bytes: credited))
        } else {
            _ = nghttp2_session_consume(nghttp, stream.rawValue, credited)
        }
    }

    /// Sends GOAWAY (RFC 9113 §6.8).
    /// - With an error `code`, the connection ends: nghttp2 stops reading and `isFinished` turns
    ///   true once the frame is out.
    /// - With `.noError` and `graceful` (server role), the two-step shutdown starts: GOAWAY with
    ///   last-stream-id 2^31-1 and a PING; when the PING's ACK returns (one round trip, so every
    ///   request the peer sent before seeing the first GOAWAY has arrived), the final GOAWAY
    ///   carries the last stream actually processed. Call again with `graceful: false` to send
    ///   the final GOAWAY without waiting (after a short deadline when the PING gets no answer).
    /// - With `.noError` otherwise, the final GOAWAY goes at once. Streams up to its last id still
    ///   complete; `isFinished` turns true when they have.
    public func goAway(_ code: HTTP2ErrorCode = .noError, graceful: Bool) {
        if isDispatching {
            deferred.append(.goAway(code: code.rawValue, graceful: graceful))
        } else {
            applyGoAway(code, graceful: graceful)
        }
    }

    private func applyGoAway(_ code: HTTP2ErrorCode, graceful: Bool) {
        guard failure == nil else { return }
        if code != .noError {
            localTermination = true
            _ = nghttp2_session_terminate_session(nghttp, code.rawValue)
            return
        }
        if graceful && role == .server && shutdown == .none {
            shutdown = .noticeSent
            _ = nghttp2_submit_shutdown_notice(nghttp)
            var payload = HTTP2Session.shutdownPingPayload
            _ = withUnsafeBytes(of: &payload) { bytes in
                nghttp2_submit_ping(nghttp, CNghttp2_FLAG_NONE, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            return
        }
        finishShutdown()
    }

    func finishShutdown() {
        guard shutdown != .finalSent, failure == nil else { return }
        shutdown = .finalSent
        _ = nghttp2_submit_goaway(nghttp, CNghttp2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(nghttp),
                                  HTTP2ErrorCode.noError.rawValue, nil, 0)
    }

    /// The PING payload that marks the round trip of a graceful shutdown ("devmesh!").
    static let shutdownPingPayload: UInt64 = 0x6465_766D_6573_6821

    /// Sends a PING (RFC 9113 §6.7) whose ACK shows the peer still reads this connection: a
    /// keepalive for long-lived calls, where a silent peer (a stopped process, a dead path) would
    /// otherwise look like a quiet one. `lastPingAckAt` records when the ACK arrives.
    public func ping() {
        if isDispatching {
            deferred.append(.ping)
        } else {
            applyPing()
        }
    }

    private func applyPing() {
        guard failure == nil else { return }
        var payload = HTTP2Session.livenessPingPayload
        _ = withUnsafeBytes(of: &payload) { bytes in
            nghttp2_submit_ping(nghttp, CNghttp2_FLAG_NONE, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The PING payload of `ping()` ("alive?!!").
    static let livenessPingPayload: UInt64 = 0x616C_6976_653F_2121

    // MARK: Deferred actions

    /// Applies the actions queued while nghttp2 was running. Applying them calls nghttp2's submit
    /// functions, which never call back, so the queue cannot grow meanwhile.
    func applyDeferredActions() {
        guard !deferred.isEmpty else { return }
        assert(!isDispatching, "nghttp2 re-entered from a callback")
        for action in deferred { apply(action) }
        deferred.removeAll(keepingCapacity: true)
    }

    private func apply(_ action: DeferredAction) {
        switch action {
        case let .response(id, slot, endStream):
            guard failure == nil, streams[slot].id == id else { return }
            _ = submitResponseNow(id, slot: slot, endStream: endStream)
        case let .answerHeadersTooLarge(id, slot):
            guard failure == nil, streams[slot].id == id else { return }
            answerHeadersTooLarge(id, slot: slot)
        case let .resumeData(id):
            _ = nghttp2_session_resume_data(nghttp, id)
        case let .reset(id, code):
            _ = nghttp2_submit_rst_stream(nghttp, CNghttp2_FLAG_NONE, id, code)
        case let .consume(id, bytes):
            _ = nghttp2_session_consume(nghttp, id, bytes)
        case let .consumeConnection(bytes):
            _ = nghttp2_session_consume_connection(nghttp, bytes)
        case let .goAway(code, graceful):
            applyGoAway(HTTP2ErrorCode(code), graceful: graceful)
        case .finishShutdown:
            finishShutdown()
        case .ping:
            applyPing()
        }
    }

    /// 431 for a request head over our limits (RFC 9113 §10.5.1, RFC 6585 §5).
    private func answerHeadersTooLarge(_ id: Int32, slot: Int) {
        let status: StaticString = ":status"
        let code: StaticString = "431"
        let length: StaticString = "content-length"
        let zero: StaticString = "0"
        withUnsafeTemporaryAllocation(of: HeaderField.self, capacity: 2) { fields in
            fields[0] = HeaderField(name: bytes(status), value: bytes(code))
            fields[1] = HeaderField(name: bytes(length), value: bytes(zero))
            setHead(slot: slot, OwnedHeaderBlock(copying: UnsafeBufferPointer(fields), allocator: chunks.allocator))
        }
        _ = submitResponseNow(id, slot: slot, endStream: true)
    }
}

/// An action requested while nghttp2 was running, applied once it has returned.
enum DeferredAction {
    /// The response head waits in the slot's `head` block.
    case response(stream: Int32, slot: Int, endStream: Bool)
    case answerHeadersTooLarge(stream: Int32, slot: Int)
    case resumeData(stream: Int32)
    case reset(stream: Int32, code: UInt32)
    /// Credits received bytes back to the windows (the connection's only, once the stream closed).
    case consume(stream: Int32, bytes: Int)
    /// Credits bytes of a stream reset as malformed back to the connection window only.
    case consumeConnection(bytes: Int)
    case goAway(code: UInt32, graceful: Bool)
    case finishShutdown
    case ping
}

@inline(__always)
private func bytes(_ string: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount)
}

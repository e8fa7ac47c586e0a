internal import CNghttp2
import DevmeshBytes

/// What nghttp2 reports about received frames, turned into delegate events and abuse checks.
extension HTTP2Session {
    /// Every frame header, before its payload: new-stream bursts and empty-frame floods are
    /// counted here so they are caught even on streams nghttp2 ignores.
    func onBeginFrame(_ header: nghttp2_frame_hd) -> Int32 {
        let type = header.type
        guard type == CNghttp2_DATA || type == CNghttp2_HEADERS || type == CNghttp2_CONTINUATION else { return 0 }
        if type == CNghttp2_HEADERS {
            guardState.continuationsInBlock = 0
        } else if type == CNghttp2_CONTINUATION {
            guardState.continuationsInBlock += 1
            if guardState.continuationsInBlock > settings.maxContinuationFrames { return trip(.continuationFlood) }
        }
        if type == CNghttp2_HEADERS && role == .server && header.stream_id & 1 == 1
            && header.stream_id > guardState.highestPeerStreamID {
            guardState.highestPeerStreamID = header.stream_id
            guardState.newStreamsThisReceive += 1
            if guardState.newStreamsThisReceive > settings.maxNewStreamsPerReceive {
                return trip(.streamOpenBurst)
            }
        }
        let ends = type == CNghttp2_DATA
            ? header.flags & CNghttp2_FLAG_END_STREAM != 0
            : header.flags & CNghttp2_FLAG_END_HEADERS != 0
        if header.length == 0 { return ends ? 0 : countEmptyFrame() }
        // A padded DATA frame may carry padding only: judged in onFrameReceived.
        if type == CNghttp2_DATA && header.flags & CNghttp2_FLAG_PADDED != 0 { return 0 }
        guardState.consecutiveEmptyFrames = 0
        return 0
    }

    func countEmptyFrame() -> Int32 {
        counters.emptyFrames += 1
        guardState.consecutiveEmptyFrames += 1
        return guardState.consecutiveEmptyFrames > settings.maxConsecutiveEmptyFrames ? trip(.emptyFrameFlood) : 0
    }

    /// Records abuse and stops nghttp2 (it returns NGHTTP2_ERR_CALLBACK_FAILURE at once, without
    /// reading the rest of the input); `receive` then fails the connection with GOAWAY.
    func trip(_ reason: HTTP2ConnectionError.Reason) -> Int32 {
        if pendingTrip == nil { pendingTrip = HTTP2ConnectionError(code: .enhanceYourCalm, reason: reason) }
        return isReceiving ? CNghttp2_ERR_CALLBACK_FAILURE : 0
    }

    /// A header block starts: a new stream (server role, request) or a block on a known stream.
    func onBeginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let id = frame.pointee.hd.stream_id
        collector.releaseAll()
        let slot: Int
        let category = Int32(frame.pointee.headers.cat.rawValue)
        if role == .server && category == CNghttp2_HCAT_REQUEST {
            slot = streams.allocate(id: id)
            streams[slot].openedAt = now
            counters.streamsOpened += 1
        } else if let known = self.slot(of: id) {
            slot = known
        } else {
            return 0
        }
        collector.slot = slot
        // nghttp2 calls the first block of a stream REQUEST (server) or RESPONSE (client) and
        // every later one HEADERS; after a 1xx, a later block is a response head again.
        if role == .server {
            blockInFlight = category == CNghttp2_HCAT_REQUEST ? .requestHead : .requestTrailers
        } else {
            blockInFlight = category == CNghttp2_HCAT_RESPONSE || streams[slot].message.expectsFinalResponse
                ? .responseHead : .responseTrailers
        }
        streams[slot].headerListBytes = 0
        streams[slot].headerFieldCount = 0
        streams[slot].headerListRejected = false
        return 0
    }

    /// One decoded field: checked against RFC 9113 §8 (the only walk over its bytes), then
    /// counted toward the §6.5.2 size of the block and kept.
    func onHeader(_ frame: UnsafePointer<nghttp2_frame>, name: OpaquePointer, value: OpaquePointer) -> Int32 {
        let id = frame.pointee.hd.stream_id
        let slot = collector.slot
        guard slot >= 0, streams[slot].id == id else { return 0 }
        let nameBytes = nghttp2_rcbuf_get_buf(name)
        let valueBytes = nghttp2_rcbuf_get_buf(value)
        let nameView = UnsafeRawBufferPointer(start: nameBytes.base, count: nameBytes.len)
        let valueView = UnsafeRawBufferPointer(start: valueBytes.base, count: valueBytes.len)
        // The rules come first, for every block of the stream (also one over our size limits or
        // answered 431): nghttp2 ran them before this callback.
        var verdict = FieldVerdict.accept
        if knownFields.contains(name: name, value: value) {
            streams[slot].message.knownPlainField()
        } else {
            switch blockInFlight {
            case .requestHead: verdict = streams[slot].message.requestField(name: nameView, value: valueView, trailers: false)
            case .requestTrailers: verdict = streams[slot].message.requestField(name: nameView, value: valueView, trailers: true)
            case .responseHead: verdict = streams[slot].message.responseField(name: nameView, value: valueView, trailers: false)
            case .responseTrailers: verdict = streams[slot].message.responseField(name: nameView, value: valueView, trailers: true)
            }
            if verdict == .acceptPlain {
                verdict = .accept
                knownFields.remember(name: name, value: value, byteCount: nameBytes.len &+ valueBytes.len)
            }
        }
        if verdict != .accept && enforcesMessageRules {
            if verdict == .drop { return 0 }
            if verdict == .invalidField { counters.invalidHeaderFields += 1 }
            return rejectMalformedHeaders(slot: slot, id: id)
        }
        if streams[slot].headerListRejected || streams[slot].answeredLocally { return 0 }
        // Wrapping adds: a field is at most 64 KiB (nghttp2's cap) and the block stops growing
        // at our limit, so these cannot overflow.
        streams[slot].headerListBytes &+= nameBytes.len &+ valueBytes.len &+ 32
        // SAFETY: the rules above refuse an empty name, so byte 0 exists.
        if nameBytes.base[0] != UInt8(ascii: ":") {
            streams[slot].headerFieldCount &+= 1
        }
        if streams[slot].headerListBytes > settings.maxHeaderListBytes
            || streams[slot].headerFieldCount > settings.maxHeaderFieldCount {
            return rejectHeaderBlock(slot: slot, id: id)
        }
        collector.append(name: name, value: value, nameBytes: nameBytes, valueBytes: valueBytes)
        return 0
    }

    /// The block is over our limits. A request head (server role) keeps being decoded and is
    /// answered 431 once it ends (RFC 9113 §10.5.1: "can send an HTTP 431"); any other block
    /// resets the stream, nghttp2 still decoding the rest so HPACK stays in sync.
    private func rejectHeaderBlock(slot: Int, id: Int32) -> Int32 {
        streams[slot].headerListRejected = true
        counters.headerListsTooLarge += 1
        collector.releaseAll()
        collector.slot = slot
        if role == .server && !streams[slot].headReceived { return 0 }
        // nghttp2 documents submitting RST_STREAM here to choose the code, before returning
        // NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.
        _ = nghttp2_submit_rst_stream(nghttp, CNghttp2_FLAG_NONE, id, HTTP2ErrorCode.enhanceYourCalm.rawValue)
        return CNghttp2_ERR_TEMPORAL_CALLBACK_FAILURE
    }

    /// RFC 9113 §8.1.1: "Malformed requests or responses that are detected MUST be treated as a
    /// stream error (Section 5.4.2) of type PROTOCOL_ERROR." RST_STREAM is submitted here, from
    /// inside the callback, as nghttp2 does for its own checks at the same point (and documents
    /// for header callbacks), so the stream is closing at once: nghttp2 delivers nothing more of
    /// it. Counted as an invalid frame, like the library's report of its own finds.
    private func rejectMalformedHeaders(slot: Int, id: Int32) -> Int32 {
        counters.invalidFrames += 1
        markMalformed(slot: slot, id: id)
        collector.releaseAll()
        return CNghttp2_ERR_TEMPORAL_CALLBACK_FAILURE
    }

    private func markMalformed(slot: Int, id: Int32) {
        streams[slot].malformed = true
        _ = nghttp2_submit_rst_stream(nghttp, CNghttp2_FLAG_NONE, id, HTTP2ErrorCode.protocolError.rawValue)
    }

    func onFrameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let header = frame.pointee.hd
        switch header.type {
        case CNghttp2_HEADERS:
            deliverHeaderBlock(streamID: header.stream_id, endStream: header.flags & CNghttp2_FLAG_END_STREAM != 0)
        case CNghttp2_DATA:
            // nghttp2 reports DATA only on streams it has not reset, so a malformed one never
            // gets here. The end must match content-length and follow a final response.
            if header.flags & CNghttp2_FLAG_END_STREAM != 0, enforcesMessageRules,
               let slot = slot(of: header.stream_id), !streams[slot].message.endOfStream() {
                markMalformed(slot: slot, id: header.stream_id)
                return 0
            }
            // A DATA frame made of padding only is as empty as a zero-length one.
            if header.flags & CNghttp2_FLAG_PADDED != 0 {
                if header.length == frame.pointee.data.padlen && header.flags & CNghttp2_FLAG_END_STREAM == 0 {
                    let verdict = countEmptyFrame()
                    if verdict != 0 { return verdict }
                } else {
                    guardState.consecutiveEmptyFrames = 0
                }
            }
            if header.flags & CNghttp2_FLAG_END_STREAM != 0, let slot = slot(of: header.stream_id),
               streams[slot].announced {
                delegate?.http2Session(self, didReceiveData: UnsafeRawBufferPointer(start: nil, count: 0),
                                       stream: HTTP2StreamID(header.stream_id), endStream: true)
            }
        case CNghttp2_RST_STREAM:
            counters.streamsResetByPeer += 1
            if let slot = slot(of: header.stream_id) { streams[slot].resetByPeer = true }
        case CNghttp2_GOAWAY:
            goAwayReceived = true
            delegate?.http2Session(self, didReceiveGoAway: HTTP2StreamID(frame.pointee.goaway.last_stream_id),
                                   errorCode: HTTP2ErrorCode(frame.pointee.goaway.error_code))
        case CNghttp2_SETTINGS:
            if header.flags & CNghttp2_FLAG_ACK == 0 { remoteSettingsReceived = true }
        case CNghttp2_PING where header.flags & CNghttp2_FLAG_ACK != 0:
            let payload = withUnsafeBytes(of: frame.pointee.ping.opaque_data, { $0.loadUnaligned(as: UInt64.self) })
            if payload == HTTP2Session.shutdownPingPayload && shutdown == .noticeSent {
                deferred.append(.finishShutdown)
            } else if payload == HTTP2Session.livenessPingPayload {
                lastPingAckAt = now
            }
        default:
            break
        }
        return 0
    }

    private func deliverHeaderBlock(streamID id: Int32, endStream: Bool) {
        defer { collector.releaseAll() }
        guard let slot = slot(of: id), collector.slot == slot else { return }
        // The block's own rules first (nghttp2 checked them before this callback), whatever
        // else becomes of it.
        let kind: HTTP2HeaderBlockKind
        var wellFormed: Bool
        switch blockInFlight {
        case .requestHead:
            kind = .request
            wellFormed = streams[slot].message.endOfRequestHead()
        case .responseHead:
            let outcome = streams[slot].message.endOfResponseHead()
            kind = outcome == .informational ? .informational : .response
            wellFormed = outcome != .malformed
        case .requestTrailers, .responseTrailers:
            // RFC 9113 §8.1: a trailer section ends the stream.
            kind = .trailers
            wellFormed = endStream
        }
        if wellFormed && endStream { wellFormed = streams[slot].message.endOfStream() }
        if !wellFormed && enforcesMessageRules {
            counters.invalidFrames += 1
            markMalformed(slot: slot, id: id)
            return
        }
        // A request answered 431 may still send trailers: the proxy never saw the stream.
        guard !streams[slot].answeredLocally else { return }
        if streams[slot].headerListRejected {
            // Only a server's request head gets here (other blocks were reset).
            streams[slot].answeredLocally = true
            deferred.append(.answerHeadersTooLarge(stream: id, slot: slot))
            return
        }
        if kind == .request || kind == .response { streams[slot].headReceived = true }
        streams[slot].announced = true
        delegate?.http2Session(self, didReceiveHeaders: collector.view, kind: kind,
                               stream: HTTP2StreamID(id), endStream: endStream)
    }

    func onDataChunk(streamID id: Int32, bytes: UnsafeRawBufferPointer) -> Int32 {
        if let slot = slot(of: id), enforcesMessageRules {
            // A stream reset as malformed by an earlier chunk of this frame (nghttp2 delivers the
            // rest of a frame it already started) gives the bytes back to the connection, as
            // nghttp2 did for the DATA it dropped.
            if streams[slot].malformed {
                deferred.append(.consumeConnection(bytes: bytes.count))
                return 0
            }
            if !streams[slot].message.dataReceived(bytes.count) {
                markMalformed(slot: slot, id: id)
                deferred.append(.consumeConnection(bytes: bytes.count))
                return 0
            }
        }
        guard let slot = slot(of: id), streams[slot].announced, !streams[slot].answeredLocally else {
            // Nobody will consume these bytes: give the window back right away.
            deferred.append(.consume(stream: id, bytes: bytes.count))
            return 0
        }
        streams[slot].unconsumedBytes += bytes.count
        delegate?.http2Session(self, didReceiveData: bytes, stream: HTTP2StreamID(id), endStream: false)
        return 0
    }

    func onStreamClose(streamID id: Int32, errorCode: UInt32) -> Int32 {
        guard let slot = slot(of: id) else { return 0 }
        let state = streams[slot]
        let code = HTTP2ErrorCode(errorCode)
        let reason: HTTP2StreamCloseReason
        if code == .refusedStream {
            reason = .refused
        } else if state.resetByPeer {
            reason = .resetByPeer(code)
        } else if state.malformed {
            // Reset by us for a malformed message; nghttp2 may close it before our RST_STREAM
            // is out (with no error, when its END_STREAM was the last thing both ways).
            reason = .resetLocally(.protocolError)
        } else if state.resetLocally || code != .noError {
            reason = .resetLocally(code)
        } else {
            reason = .finished
        }
        var verdict: Int32 = 0
        if role == .server { verdict = countClosedPeerStream(state) }

        if state.unconsumedBytes > 0 {
            deferred.append(.consume(stream: id, bytes: state.unconsumedBytes))
        }
        if let chunk = state.send.base { chunks.give(chunk) }
        // nghttp2 has sent or dropped this stream's HEADERS: their bytes may go.
        state.head?.release(to: chunks.allocator)
        state.trailers?.release(to: chunks.allocator)
        if collector.slot == slot { collector.releaseAll() }
        streams.release(slot)
        if state.announced && !state.answeredLocally {
            delegate?.http2Session(self, streamDidClose: HTTP2StreamID(id), reason: reason)
        }
        return verdict
    }

    /// Rapid-reset accounting over the peer's streams (CVE-2023-44487): in each sample of
    /// `rapidResetSampleStreams` closed streams, fail when at least `rapidResetPercent` were
    /// reset by the peer within `rapidResetLifetimeMilliseconds` of opening (Envoy's rule).
    private func countClosedPeerStream(_ state: StreamState) -> Int32 {
        guardState.closedPeerStreams += 1
        if state.resetByPeer && now - state.openedAt <= settings.rapidResetLifetimeMilliseconds {
            guardState.quickResets += 1
            counters.quickResets += 1
        }
        guard guardState.closedPeerStreams >= settings.rapidResetSampleStreams else { return 0 }
        let tripped = guardState.quickResets * 100 >= settings.rapidResetPercent * guardState.closedPeerStreams
        guardState.closedPeerStreams = 0
        guardState.quickResets = 0
        return tripped ? trip(.rapidReset) : 0
    }

    func onFrameSent(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        if header.type == CNghttp2_RST_STREAM {
            counters.streamsResetLocally += 1
            if let slot = slot(of: header.stream_id) { streams[slot].resetLocally = true }
        } else if header.type == CNghttp2_GOAWAY {
            let code = HTTP2ErrorCode(frame.pointee.goaway.error_code)
            // A GOAWAY with an error that this side did not ask for: nghttp2 answered a
            // protocol violation (its lib error picked the code).
            if code != .noError && failure == nil && !localTermination {
                failure = HTTP2ConnectionError(code: code, reason: .protocolViolation)
            }
        }
    }
}

/// Counters behind the connection-level abuse checks.
struct AbuseGuardState {
    var consecutiveEmptyFrames = 0
    /// CONTINUATION frames since the last HEADERS.
    var continuationsInBlock = 0
    var newStreamsThisReceive = 0
    var highestPeerStreamID: Int32 = 0
    var closedPeerStreams = 0
    var quickResets = 0
}

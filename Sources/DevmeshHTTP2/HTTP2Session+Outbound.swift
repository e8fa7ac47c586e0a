internal import CNghttp2

/// The DATA path: nghttp2 asks how much a stream may send (`readData`), then hands over the
/// frame to write (`sendData`, NGHTTP2_DATA_FLAG_NO_COPY). The body bytes are copied once, from
/// the stream's buffer straight into the caller's output buffer, never into nghttp2's.
extension HTTP2Session {
    /// Below this much room, `produce` stops cutting DATA frames (unless nothing was written yet,
    /// so that even a tiny buffer makes progress).
    static let minimumDataFrameBytes = 1024

    /// nghttp2's DATA provider: how many bytes the next DATA frame of `slot` carries (at most
    /// `maxLength`, which already honours flow control and the frame size), and whether it ends
    /// the stream.
    func readData(slot: Int, streamID: Int32, maxLength: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        // A slot is released only when nghttp2 closes its stream, after which it never reads.
        assert(streams[slot].id == streamID, "DATA provider of a released slot")
        let pending = streams[slot].send.count
        if pending == 0 {
            guard streams[slot].endRequested else {
                // Nothing buffered yet: park the provider until submitData resumes it.
                streams[slot].provider = .deferred
                return Int(CNghttp2_ERR_DEFERRED)
            }
            flags.pointee |= CNghttp2_DATA_FLAG_NO_COPY
            finishBody(slot: slot, streamID: streamID, flags: flags)
            return 0
        }
        var length = min(pending, maxLength)
        let room = outputCapacity - outputWritten - 9
        if room < length {
            if room <= 0 || (outputWritten > 0 && room < HTTP2Session.minimumDataFrameBytes) {
                // The output buffer is (nearly) full: stop this produce; the frame waits.
                return Int(CNghttp2_ERR_PAUSE)
            }
            length = room
        }
        flags.pointee |= CNghttp2_DATA_FLAG_NO_COPY
        if length == pending && streams[slot].endRequested {
            finishBody(slot: slot, streamID: streamID, flags: flags)
        }
        return length
    }

    /// The last DATA frame of the body: END_STREAM, or, when trailers wait, no END_STREAM and the
    /// trailers submitted right behind it (nghttp2 documents `nghttp2_submit_trailer` as allowed
    /// from inside the DATA provider). The trailer block stays with the stream until it closes:
    /// nghttp2 reads it when it serialises the frame.
    private func finishBody(slot: Int, streamID: Int32, flags: UnsafeMutablePointer<UInt32>) {
        flags.pointee |= CNghttp2_DATA_FLAG_EOF
        streams[slot].provider = .none
        guard let trailers = streams[slot].trailers else { return }
        flags.pointee |= CNghttp2_DATA_FLAG_NO_END_STREAM
        _ = nghttp2_submit_trailer(nghttp, streamID, trailers.entries, trailers.count)
    }

    /// Writes one DATA frame (nghttp2's 9-byte header, then `length` body bytes) into the output
    /// buffer of the `produce` call in progress. `readData` sized the frame to fit.
    func sendData(slot: Int, frameHeader: UnsafePointer<UInt8>, length: Int, paddingLength: Int) -> Int32 {
        guard let output = outputBase, paddingLength == 0,
              outputCapacity - outputWritten >= 9 + length else { return CNghttp2_ERR_WOULDBLOCK }
        // SAFETY: 9 + length bytes of room were checked above; the stream buffer holds at least
        // `length` pending bytes (readData never announces more).
        (output + outputWritten).copyMemory(from: frameHeader, byteCount: 9)
        if length > 0 {
            (output + outputWritten + 9).copyMemory(from: streams[slot].send.pending(length), byteCount: length)
        }
        outputWritten += 9 + length
        streams[slot].send.drop(length)
        if streams[slot].send.isEmpty, let chunk = streams[slot].send.base {
            chunks.give(chunk)
            streams[slot].send.base = nil
        }
        if streams[slot].waitingForRoom && streams[slot].send.count <= settings.streamSendBufferBytes / 2 {
            streams[slot].waitingForRoom = false
            roomNotices.append(streams[slot].id)
        }
        return 0
    }

    /// Tells the delegate about streams that drained (after nghttp2 returned, so it may submit
    /// more data directly).
    func deliverRoomNotices() {
        guard !roomNotices.isEmpty else { return }
        var index = 0
        while index < roomNotices.count {
            let id = roomNotices[index]
            index += 1
            if slot(of: id) != nil { delegate?.http2Session(self, streamCanSendMore: HTTP2StreamID(id)) }
        }
        roomNotices.removeAll(keepingCapacity: true)
    }
}

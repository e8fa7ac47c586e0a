internal import CNghttp2

/// The C side of the adapter: nghttp2 session creation and the callbacks it calls.
///
/// nghttp2 calls plain C functions; each one below recovers its `HTTP2Session` from the
/// session's user data (`Unmanaged`, unretained: the session owns the nghttp2 session, so it is
/// alive whenever nghttp2 runs) and hands over to a method of the session. Return values follow
/// nghttp2's contract: 0 to go on, NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE to reset one stream,
/// NGHTTP2_ERR_CALLBACK_FAILURE to stop the whole session (used when a flood is detected).
enum NghttpCallbacks {
    /// A new nghttp2 session with our options and callbacks (its user data is set by the caller).
    static func makeSession(role: HTTP2Role, settings: HTTP2Settings, allocator: NghttpAllocator,
                            httpMessaging: Bool) -> OpaquePointer {
        var option: OpaquePointer?
        precondition(nghttp2_option_new(&option) == 0, "nghttp2: out of memory")
        defer { nghttp2_option_del(option) }
        // Receive windows open only when the proxy consumed the bytes (benchmarks.md §7).
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_max_outbound_ack(option, settings.maxOutboundAcks)
        nghttp2_option_set_max_settings(option, 32)
        // Debian's 1.52 backport of the CVE-2024-28182 fix counts a CONTINUATION once per
        // `mem_recv` call that sees part of its 9-byte header, so a header split across reads
        // counts several times (a block with one CONTINUATION fed byte by byte failed). The exact
        // count per frame is ours (`onBeginFrame`); nghttp2's stays as a backstop at the worst
        // case of one count per header byte.
        nghttp2_option_set_max_continuations(option, 9 * (settings.maxContinuationFrames + 1))
        nghttp2_option_set_max_send_header_block_length(option, settings.maxSendHeaderBlockBytes)
        nghttp2_option_set_peer_max_concurrent_streams(option, UInt32(min(settings.maxConcurrentStreams, 100)))
        // A server session otherwise keeps every closed stream in a list for RFC 7540's priority
        // tree (which RFC 9113 §5.3.2 deprecates and the proxy never uses for scheduling), and
        // trims that list on every new stream.
        nghttp2_option_set_no_closed_streams(option, 1)
        // RFC 9113 §8's message rules are the session's (MessageState, checked in the header
        // callback that walks every field anyway): nghttp2's pass over each field cost 3,500
        // instructions per gRPC call. Only tests turn nghttp2's checks back on, to compare.
        if !httpMessaging { nghttp2_option_set_no_http_messaging(option, 1) }

        var callbacks: OpaquePointer?
        precondition(nghttp2_session_callbacks_new(&callbacks) == 0, "nghttp2: out of memory")
        defer { nghttp2_session_callbacks_del(callbacks) }
        install(callbacks)

        var session: OpaquePointer?
        var memory = allocator.table() // copied by nghttp2
        let created = role == .server
            ? nghttp2_session_server_new3(&session, callbacks, nil, option, &memory)
            : nghttp2_session_client_new3(&session, callbacks, nil, option, &memory)
        guard created == 0, let session else { preconditionFailure("nghttp2 session creation failed: \(created)") }
        return session
    }

    private static func install(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks) { _, header, userData in
            withSession(userData) { session in session.onBeginFrame(header!.pointee) }
        }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            withSession(userData) { session in session.onBeginHeaders(frame!) }
        }
        nghttp2_session_callbacks_set_on_header_callback2(callbacks) { _, frame, name, value, _, userData in
            withSession(userData) { session in session.onHeader(frame!, name: name!, value: value!) }
        }
        nghttp2_session_callbacks_set_on_invalid_header_callback2(callbacks) { _, _, _, _, _, userData in
            // Only called while nghttp2 checks messages (tests). RFC 9113 §8.2.1: a field with
            // invalid characters makes the message malformed. Left unset, nghttp2 1.52 would
            // drop the field and deliver the rest.
            withSession(userData) { session in
                session.counters.invalidHeaderFields += 1
                return CNghttp2_ERR_TEMPORAL_CALLBACK_FAILURE
            }
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            withSession(userData) { session in session.onFrameReceived(frame!) }
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            withSession(userData) { session in
                session.onDataChunk(streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length))
            }
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            withSession(userData) { session in session.onStreamClose(streamID: streamID, errorCode: errorCode) }
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            withSession(userData) { session in
                session.onFrameSent(frame!)
                return 0
            }
        }
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks) { _, _, _, userData in
            withSession(userData) { session in
                session.counters.invalidFrames += 1
                return 0
            }
        }
        nghttp2_session_callbacks_set_send_data_callback(callbacks) { _, frame, frameHeader, length, source, userData in
            guard let slot = slotIndex(source?.pointee.ptr) else { return CNghttp2_ERR_CALLBACK_FAILURE }
            return withSession(userData) { session in
                session.sendData(slot: slot, frameHeader: frameHeader!, length: length,
                                 paddingLength: frame!.pointee.data.padlen)
            }
        }
    }

    /// The DATA provider of every stream the session sends a body on; `source.ptr` holds the
    /// stream's slot.
    static func dataProvider(slot: Int) -> nghttp2_data_provider {
        nghttp2_data_provider(source: nghttp2_data_source(ptr: slotPointer(slot))) { _, streamID, _, length, flags, source, userData in
            guard let slot = slotIndex(source?.pointee.ptr) else { return Int(CNghttp2_ERR_CALLBACK_FAILURE) }
            return withSession(userData) { session in
                session.readData(slot: slot, streamID: streamID, maxLength: length, flags: flags!)
            }
        }
    }
}

/// Runs `body` with the session behind nghttp2's user data, without retaining it: the session
/// owns the nghttp2 session, so it is alive whenever nghttp2 calls back (a retain/release pair per
/// callback cost 16 % of an exchange). nghttp2 passes non-null frames, names and values to every
/// callback it documents; user data is nil only while the session is torn down, when nothing
/// must happen.
@inline(__always)
private func withSession<R: BinaryInteger>(_ userData: UnsafeMutableRawPointer?, _ body: (HTTP2Session) -> R) -> R {
    guard let userData else { return 0 }
    return Unmanaged<HTTP2Session>.fromOpaque(userData)._withUnsafeGuaranteedRef(body)
}

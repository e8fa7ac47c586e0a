internal import CNghttp2
import DevmeshBytes

/// One HTTP/2 connection (h2c), as a server (downstream) or a client (multiplexed upstream):
/// nghttp2 behind an API that shows none of its types.
///
/// Overview: bytes read from the socket go into `receive`, which calls the delegate for every
/// header block, body chunk, stream end and GOAWAY. The proxy answers with actions
/// (`submitResponse`, `submitRequest`, `submitData`, `submitTrailers`, `resetStream`, `consume`,
/// `goAway`), then calls `produce` to serialise frames into its own output buffer and writes
/// those bytes with its own syscalls. The session never does I/O and never blocks.
///
/// Function:
/// - Flow control follows the other side's progress: a received DATA frame keeps the window
///   closed until `consume` says its bytes were taken (nghttp2 runs with
///   `no_auto_window_update`); outgoing bytes wait in a bounded per-stream buffer and
///   `submitData` answers `.partial` when it is full, then `streamCanSendMore` when it drained.
/// - Output is bounded: `produce` fills the caller's buffer; whatever nghttp2 had serialised that
///   did not fit waits as one pending slice (`pendingOutputBytes`) for the next call.
/// - Limits nghttp2 does not enforce (notes/reliability.md §3) live here: the decoded header-list
///   size, empty-frame floods, outbound-queue floods, rapid resets and new-stream bursts. They
///   fail the stream or the connection with a typed error and a GOAWAY.
///
/// Implementation: nghttp2 calls the global functions of `NghttpCallbacks.swift`, which find the
/// session through `Unmanaged` user data. While nghttp2 runs (`isDispatching`), actions the
/// delegate requests are queued (`DeferredAction`) and applied when nghttp2 has returned, so
/// nghttp2 is never re-entered from its own callbacks (see `HTTP2SessionDelegate`). Per-stream
/// state lives in a reusable slot table, header blocks are delivered straight from nghttp2's
/// reference-counted buffers, stream send buffers come from the worker's `HTTP2BufferPool`, and
/// nghttp2's own allocations are recycled through that pool's free lists: once a connection has
/// reached its working set, an exchange calls no `malloc` (MemoryTests pins it).
///
/// Confined to one thread; not `Sendable`.
public final class HTTP2Session {
    public let role: HTTP2Role
    public let settings: HTTP2Settings
    /// Receives the events. Not retained: the delegate (the connection object that owns this
    /// session) must outlive the session.
    public unowned(unsafe) var delegate: (any HTTP2SessionDelegate)?

    /// Why the session failed, once it has (a GOAWAY with `failure.code` is queued or sent).
    /// Set by `receive` for errors it detects, and by `produce` when nghttp2 itself answered a
    /// protocol violation with GOAWAY.
    public internal(set) var failure: HTTP2ConnectionError?
    public internal(set) var counters = HTTP2Counters()
    /// The peer sent GOAWAY: no new stream may be opened on this session.
    public internal(set) var goAwayReceived = false
    /// When the ACK of a `ping()` last arrived (the `now` given to that `receive`).
    public internal(set) var lastPingAckAt: Int64?

    /// The smallest output buffer worth passing to `produce`, bytes. Smaller buffers still make
    /// progress but cut DATA into small frames.
    public static let minimumOutputBytes = 1024
    /// Below this much space `produce` writes nothing (a DATA frame needs its 9-byte header and
    /// some payload).
    public static let minimumProduceBytes = 64

    let nghttp: OpaquePointer
    var streams: StreamTable
    var collector: HeaderBlockCollector
    /// What the header block being received is, as the message rules read it (set when it
    /// begins; RFC 9113 §6.10 lets only one block be in flight per connection).
    var blockInFlight = InboundBlock.requestHead
    /// Fields already checked on this connection, skipped when HPACK sends them again.
    var knownFields = KnownFieldCache()
    /// The session resets malformed messages itself (RFC 9113 §8, `MessageState`). False only
    /// for tests that let nghttp2 check instead, to compare the two (`LibraryParityTests`).
    let enforcesMessageRules: Bool
    /// Where stream send buffers come from (shared by a worker's sessions, or this session's own).
    let chunks: HTTP2BufferPool

    /// True while nghttp2 runs (inside `nghttp2_session_mem_recv` / `_mem_send`): actions are
    /// queued instead of calling into nghttp2.
    var isDispatching = false
    var isReceiving = false
    var deferred: [DeferredAction] = []
    /// Streams whose buffer drained while nghttp2 was running; told after it returns.
    var roomNotices: [Int32] = []

    // Output window of the `produce` call in progress (read by the DATA callbacks).
    var outputBase: UnsafeMutableRawPointer?
    var outputCapacity = 0
    var outputWritten = 0
    /// Bytes nghttp2 serialised that did not fit in the last buffer (valid until the next
    /// `nghttp2_session_mem_send`, which is not called before they are out).
    var leftover: UnsafePointer<UInt8>?
    var leftoverCount = 0
    /// nghttp2 failed to serialise (out of memory): nothing more can be produced.
    var outputBroken = false

    /// The clock given to the current `receive` (monotonic milliseconds).
    var now: Int64 = 0
    var guardState = AbuseGuardState()
    /// Set by a callback that found abuse; the connection fails when nghttp2 returns.
    var pendingTrip: HTTP2ConnectionError?
    var shutdown = ShutdownStep.none
    /// This side asked for a GOAWAY with an error code (not nghttp2 on its own).
    var localTermination = false
    var remoteSettingsReceived = false

    /// Creates a session and queues its first frames (client preface, SETTINGS, the connection
    /// WINDOW_UPDATE): call `produce` before anything else is expected from the peer.
    /// `bufferPool` is normally the worker's shared pool; its chunk size must equal
    /// `settings.streamSendBufferBytes`. Without one the session gets a small pool of its own.
    public convenience init(role: HTTP2Role, settings: HTTP2Settings = HTTP2Settings(),
                            bufferPool: HTTP2BufferPool? = nil) {
        self.init(role: role, settings: settings, bufferPool: bufferPool, messageRulesByLibrary: false)
    }

    /// `messageRulesByLibrary`: nghttp2 checks RFC 9113 §8 (its HTTP messaging on) and the
    /// session only follows along; the way the proxy ran before it did the checks itself. Kept
    /// for the tests that hold the session's rules against the library's.
    init(role: HTTP2Role, settings: HTTP2Settings, bufferPool: HTTP2BufferPool?, messageRulesByLibrary: Bool) {
        if let problem = settings.validationProblem() { preconditionFailure("HTTP2Settings: \(problem)") }
        let pool = bufferPool ?? HTTP2BufferPool(chunkBytes: settings.streamSendBufferBytes, maxIdleChunks: 4,
                                                 maxIdleBlocksPerSize: 16)
        precondition(pool.chunkBytes == settings.streamSendBufferBytes,
                     "HTTP2BufferPool chunks must be settings.streamSendBufferBytes long")
        self.role = role
        self.settings = settings
        enforcesMessageRules = !messageRulesByLibrary
        streams = StreamTable(expectedStreams: settings.maxConcurrentStreams)
        collector = HeaderBlockCollector(initialCapacity: 16)
        chunks = pool
        deferred.reserveCapacity(32)
        roomNotices.reserveCapacity(16)
        nghttp = NghttpCallbacks.makeSession(role: role, settings: settings, allocator: pool.allocator,
                                             httpMessaging: messageRulesByLibrary)
        nghttp2_session_set_user_data(nghttp, Unmanaged.passUnretained(self).toOpaque())
        submitInitialSettings()
    }

    deinit {
        // The collector holds references into nghttp2's memory: drop them first.
        collector.releaseAll()
        collector.deallocate()
        knownFields.releaseAll()
        nghttp2_session_set_user_data(nghttp, nil)
        nghttp2_session_del(nghttp)
        // nghttp2 is gone, and with it every reference into the streams' header blocks.
        let pool = chunks
        streams.forEachInUse { state in
            if let chunk = state.send.base { pool.give(chunk) }
            state.head?.release(to: pool.allocator)
            state.trailers?.release(to: pool.allocator)
        }
        streams.deallocate()
    }

    // MARK: State

    /// nghttp2 has frames to send or `produce` has bytes left over: call `produce`.
    public var wantsWrite: Bool {
        leftoverCount > 0 || (!outputBroken && nghttp2_session_want_write(nghttp) != 0)
    }

    /// The session still expects bytes from the peer.
    public var wantsRead: Bool {
        failure == nil && nghttp2_session_want_read(nghttp) != 0
    }

    /// Nothing more to read or write: close the connection. True after a failure once the GOAWAY
    /// is out, or after GOAWAY (either way) once every stream has closed.
    public var isFinished: Bool {
        if wantsWrite { return false }
        if failure != nil { return true }
        return nghttp2_session_want_read(nghttp) == 0 && shutdown != .noticeSent
    }

    /// Bytes serialised by nghttp2 and not yet handed out by `produce` (at most one frame).
    public var pendingOutputBytes: Int { leftoverCount }

    /// Frames other than DATA waiting in nghttp2's outbound queue.
    public var queuedFrameCount: Int { nghttp2_session_get_outbound_queue_size(nghttp) }

    /// Streams open on this session (opened by either side and not yet reported closed).
    public var openStreamCount: Int { streams.count }

    /// Client role: how many more streams `submitRequest` may open now (the smaller of our
    /// `maxConcurrentStreams` and the peer's SETTINGS_MAX_CONCURRENT_STREAMS, which counts as
    /// 100 until the peer's SETTINGS arrive). Zero after GOAWAY or a failure.
    public var availableStreamSlots: Int {
        guard role == .client, failure == nil, !goAwayReceived, shutdown == .none else { return 0 }
        var limit = settings.maxConcurrentStreams
        let peer = remoteSettingsReceived
            ? Int(nghttp2_session_get_remote_settings(nghttp, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
            : 100
        limit = min(limit, peer)
        return max(0, limit - streams.count)
    }

    // MARK: Input

    /// Processes bytes read from the socket; the delegate hears about them before this returns.
    /// `now` is a monotonic clock in milliseconds (the event loop's), used by the rapid-reset
    /// check. Every byte is consumed (nghttp2 keeps partial frames itself).
    public func receive(_ bytes: UnsafeRawBufferPointer, now: Int64) -> HTTP2ReceiveOutcome {
        precondition(!isDispatching, "HTTP2Session.receive called from inside a delegate callback")
        if let failure { return .failed(failure) }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .processed }
        self.now = now
        guardState.newStreamsThisReceive = 0
        isDispatching = true
        isReceiving = true
        let result = nghttp2_session_mem_recv(nghttp, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        isReceiving = false
        isDispatching = false
        if let trip = pendingTrip { return fail(trip) }
        if result < 0 { return fail(connectionError(forLibraryCode: Int32(truncatingIfNeeded: result))) }
        applyDeferredActions()
        if nghttp2_session_get_outbound_queue_size(nghttp) > settings.maxOutboundQueuedFrames {
            return fail(HTTP2ConnectionError(code: .enhanceYourCalm, reason: .outboundQueueFlood))
        }
        return .processed
    }

    /// Records the failure, drops queued actions and queues GOAWAY(code). nghttp2 stops reading
    /// and closes the session once that GOAWAY is produced.
    func fail(_ error: HTTP2ConnectionError) -> HTTP2ReceiveOutcome {
        pendingTrip = nil
        if failure == nil { failure = error }
        deferred.removeAll(keepingCapacity: true)
        localTermination = true
        _ = nghttp2_session_terminate_session(nghttp, error.code.rawValue)
        return .failed(failure ?? error)
    }

    private func connectionError(forLibraryCode code: Int32) -> HTTP2ConnectionError {
        switch code {
        case CNghttp2_ERR_BAD_CLIENT_MAGIC: HTTP2ConnectionError(code: .protocolError, reason: .badPreface)
        case CNghttp2_ERR_FLOODED: HTTP2ConnectionError(code: .enhanceYourCalm, reason: .controlFrameFlood)
        case CNghttp2_ERR_TOO_MANY_CONTINUATIONS: HTTP2ConnectionError(code: .enhanceYourCalm, reason: .continuationFlood)
        default: HTTP2ConnectionError(code: .internalError, reason: .internalFailure(code))
        }
    }

    // MARK: Output

    /// Serialises pending frames into `buffer` and returns how many bytes it wrote. Write them to
    /// the socket; if the kernel takes only part, keep the rest and send it before calling
    /// `produce` again. Call while `wantsWrite` is true (one call per loop turn is the intent:
    /// pass the whole free space of the output buffer, ideally `minimumOutputBytes` or more).
    /// Less than `minimumProduceBytes` of space produces nothing: flush and call again.
    public func produce(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(!isDispatching, "HTTP2Session.produce called from inside a delegate callback")
        guard let base = buffer.baseAddress, buffer.count >= HTTP2Session.minimumProduceBytes else { return 0 }
        var written = 0
        if let pending = leftover {
            written = min(leftoverCount, buffer.count)
            // SAFETY: `pending` has leftoverCount valid bytes (nghttp2 keeps them until the next
            // mem_send); `written` fits in `buffer`.
            base.copyMemory(from: pending, byteCount: written)
            leftoverCount -= written
            leftover = leftoverCount > 0 ? pending + written : nil
            if leftoverCount > 0 { return written }
        }
        outputBase = base
        outputCapacity = buffer.count
        outputWritten = written
        while outputWritten < outputCapacity {
            var chunk: UnsafePointer<UInt8>?
            isDispatching = true
            let count = nghttp2_session_mem_send(nghttp, &chunk)
            isDispatching = false
            if count < 0 {
                outputBroken = true
                if failure == nil {
                    failure = HTTP2ConnectionError(code: .internalError,
                                                   reason: .internalFailure(Int32(truncatingIfNeeded: count)))
                }
                break
            }
            guard count > 0, let chunk else { break }
            let copied = min(count, outputCapacity - outputWritten)
            // SAFETY: `chunk` has `count` bytes; `copied` fits in the free space of `buffer`.
            (base + outputWritten).copyMemory(from: chunk, byteCount: copied)
            outputWritten += copied
            if copied < count {
                leftover = chunk + copied
                leftoverCount = count - copied
                break
            }
        }
        written = outputWritten
        outputBase = nil
        outputCapacity = 0
        outputWritten = 0
        if let trip = pendingTrip { _ = fail(trip) }
        applyDeferredActions()
        deliverRoomNotices()
        return written
    }

    // MARK: Helpers shared by the extensions

    /// The slot of stream `id`, if the session still tracks it.
    @inline(__always)
    func slot(of id: Int32) -> Int? { streams.slot(of: id) }

    private func submitInitialSettings() {
        var entries: [nghttp2_settings_entry] = [
            nghttp2_settings_entry(settings_id: CNghttp2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                   value: UInt32(settings.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: CNghttp2_SETTINGS_INITIAL_WINDOW_SIZE,
                                   value: UInt32(settings.initialStreamWindowBytes)),
            nghttp2_settings_entry(settings_id: CNghttp2_SETTINGS_MAX_FRAME_SIZE,
                                   value: UInt32(settings.maxFrameBytes)),
            nghttp2_settings_entry(settings_id: CNghttp2_SETTINGS_MAX_HEADER_LIST_SIZE,
                                   value: UInt32(settings.maxHeaderListBytes)),
        ]
        // RFC 9113 §6.5.2: only a client may disable push; a proxy never accepts pushes.
        if role == .client {
            entries.append(nghttp2_settings_entry(settings_id: CNghttp2_SETTINGS_ENABLE_PUSH, value: 0))
        }
        let submitted = nghttp2_submit_settings(nghttp, CNghttp2_FLAG_NONE, entries, entries.count)
        precondition(submitted == 0, "nghttp2_submit_settings failed: \(submitted)")
        if settings.connectionWindowBytes > 65_535 {
            let raised = nghttp2_session_set_local_window_size(nghttp, CNghttp2_FLAG_NONE, 0,
                                                               Int32(settings.connectionWindowBytes))
            precondition(raised == 0, "nghttp2_session_set_local_window_size failed: \(raised)")
        }
    }
}

/// Which kind of header block is being received, from nghttp2's category of its HEADERS frame and
/// the stream's history: it picks the rules its fields are held to.
enum InboundBlock {
    /// Server role: the request head (the HEADERS that opened the stream).
    case requestHead
    /// Server role: any later block, the request's trailer section.
    case requestTrailers
    /// Client role: a response head, interim (1xx) or final.
    case responseHead
    /// Client role: a block after the final response head.
    case responseTrailers
}

/// Where a graceful shutdown stands (RFC 9113 §6.8: GOAWAY with 2^31-1, then the real last id).
enum ShutdownStep {
    case none
    /// GOAWAY(2^31-1) and a PING are queued; the final GOAWAY follows the PING ACK.
    case noticeSent
    /// The final GOAWAY is queued.
    case finalSent
}

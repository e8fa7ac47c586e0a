/// Per-stream state the adapter keeps next to nghttp2's own stream. One slot per open stream,
/// in a table that grows to the high-water mark of concurrent streams and is then reused: no
/// allocation per stream in steady state. nghttp2 finds a slot through the stream's user data
/// (the slot index + 1 stored as a pointer), the DATA provider through its `source.ptr`.
struct StreamState {
    var id: Int32 = 0

    // MARK: Receiving side

    /// The delegate has heard of this stream (its request was delivered, or we opened it).
    /// Unannounced streams (rejected before delivery) produce no close event.
    var announced = false
    /// A request head (server) or a final response head (client) has arrived; a later block is
    /// trailers.
    var headReceived = false
    /// Decoded size of the header block in progress (RFC 9113 §6.5.2 accounting).
    var headerListBytes = 0
    var headerFieldCount = 0
    /// The block in progress broke a header limit: its fields are dropped while HPACK decoding
    /// goes on (RFC 9113 §10.5.1 keeps the decoder in sync).
    var headerListRejected = false
    /// Server role: the request was answered 431 by the session; the proxy never sees it.
    var answeredLocally = false
    /// When the peer opened it (milliseconds, the clock given to `receive`).
    var openedAt: Int64 = 0
    var resetByPeer = false
    var resetLocally = false
    /// Bytes delivered to the delegate and not yet consumed: credited back on close.
    var unconsumedBytes = 0

    // MARK: Sending side

    var send = SendBuffer()
    /// Response or request headers were submitted (or queued for submission).
    var headersSubmitted = false
    /// The caller ended its side (last `submitData` with `endStream`, or trailers).
    var endRequested = false
    /// Trailers to send once the buffered data is out.
    var trailers: OwnedHeaderBlock?
    var provider = ProviderState.none
    /// `submitData` answered `.partial`: tell the delegate when the buffer has drained to half.
    var waitingForRoom = false
}

/// Where the DATA provider of a stream stands in nghttp2.
enum ProviderState {
    /// No provider attached: headers not submitted yet, submitted with END_STREAM, or finished.
    case none
    /// Attached; nghttp2 will call the read callback when the stream may send.
    case active
    /// The read callback found the buffer empty and returned NGHTTP2_ERR_DEFERRED: call
    /// `nghttp2_session_resume_data` when bytes (or the end) arrive.
    case deferred
}

/// The slot table: dense storage and a free list of indices.
struct StreamTable {
    private(set) var slots: [StreamState] = []
    private var freeSlots: [Int] = []
    private(set) var count = 0

    init(expectedStreams: Int) {
        slots.reserveCapacity(expectedStreams)
        freeSlots.reserveCapacity(expectedStreams)
    }

    /// A fresh slot for `id`.
    mutating func allocate(id: Int32) -> Int {
        count += 1
        if let slot = freeSlots.popLast() {
            slots[slot] = StreamState()
            slots[slot].id = id
            return slot
        }
        var state = StreamState()
        state.id = id
        slots.append(state)
        return slots.count - 1
    }

    mutating func release(_ slot: Int) {
        slots[slot] = StreamState()
        freeSlots.append(slot)
        count -= 1
    }

    @inline(__always)
    subscript(slot: Int) -> StreamState {
        get { slots[slot] }
        _modify { yield &slots[slot] }
    }

    /// Every slot in use, for teardown.
    func forEachInUse(_ body: (StreamState) -> Void) {
        for state in slots where state.id != 0 { body(state) }
    }
}

/// The stream's slot index encoded as nghttp2 stream user data (index + 1, so nil means none).
@inline(__always)
func slotPointer(_ slot: Int) -> UnsafeMutableRawPointer? {
    UnsafeMutableRawPointer(bitPattern: slot + 1)
}

@inline(__always)
func slotIndex(_ pointer: UnsafeMutableRawPointer?) -> Int? {
    guard let pointer else { return nil }
    return Int(bitPattern: pointer) - 1
}

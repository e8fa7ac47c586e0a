/// Per-stream state the adapter keeps next to nghttp2's own stream. One slot per open stream,
/// in a table that grows to the high-water mark of concurrent streams and is then reused: no
/// allocation per stream in steady state. Stream ids map to slots through an `HTTP2StreamMap`
/// (nghttp2's stream user data cannot serve: a client stream only exists in nghttp2 once its
/// HEADERS is serialised, and the proxy submits its body before that); the DATA provider finds
/// its slot through `source.ptr`.
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
    /// The request (client) or response (server) head submitted to nghttp2, and the trailers
    /// (sent once the buffered data is out). nghttp2 reads their bytes when it serialises the
    /// frames (NGHTTP2_NV_FLAG_NO_COPY_*), so they are kept until the stream closes.
    var head: OwnedHeaderBlock?
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

/// The slot table: dense storage, a free list of indices and the id -> slot index.
struct StreamTable {
    private(set) var slots: [StreamState] = []
    private var freeSlots: [Int] = []
    private var slotByID: HTTP2StreamMap<Int32>

    init(expectedStreams: Int) {
        slots.reserveCapacity(expectedStreams)
        freeSlots.reserveCapacity(expectedStreams)
        slotByID = HTTP2StreamMap(expected: expectedStreams)
    }

    func deallocate() { slotByID.deallocate() }

    var count: Int { slotByID.count }

    @inline(__always)
    func slot(of id: Int32) -> Int? { slotByID[id].map(Int.init) }

    /// A fresh slot for `id` (client streams get theirs once nghttp2 assigned the id: `assign`).
    mutating func allocate(id: Int32) -> Int {
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[slot] = StreamState()
        } else {
            slots.append(StreamState())
            slot = slots.count - 1
        }
        if id > 0 { assign(id: id, to: slot) }
        return slot
    }

    mutating func assign(id: Int32, to slot: Int) {
        slots[slot].id = id
        slotByID.insert(id, Int32(slot))
    }

    mutating func release(_ slot: Int) {
        if slots[slot].id > 0 { slotByID.removeValue(for: slots[slot].id) }
        slots[slot] = StreamState()
        freeSlots.append(slot)
    }

    @inline(__always)
    subscript(slot: Int) -> StreamState {
        get { slots[slot] }
        _modify { yield &slots[slot] }
    }

    /// Every slot in use, for teardown.
    func forEachInUse(_ body: (StreamState) -> Void) {
        slotByID.forEach { _, slot in body(slots[Int(slot)]) }
    }
}

/// A slot index as the `source.ptr` of a DATA provider (index + 1, so nil means none).
@inline(__always)
func slotPointer(_ slot: Int) -> UnsafeMutableRawPointer? {
    UnsafeMutableRawPointer(bitPattern: slot + 1)
}

@inline(__always)
func slotIndex(_ pointer: UnsafeMutableRawPointer?) -> Int? {
    guard let pointer else { return nil }
    return Int(bitPattern: pointer) - 1
}

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
    /// Where the received message stands against RFC 9113 §8's rules.
    var message = MessageState()
    /// The received message broke a rule of §8 (`MessageState`) and the session reset the
    /// stream with PROTOCOL_ERROR: nothing more of it is delivered, and it closes as reset.
    var malformed = false

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
///
/// The slots live in manually managed memory rather than an `Array`: every callback touches its
/// stream's slot several times, and each mutation of an array element paid a bounds check and a
/// copy-on-write uniqueness call (`swift_isUniquelyReferenced`: 600 instructions per gRPC call,
/// callgrind). `StreamState` holds only plain values (no references to count), which is what
/// makes raw storage safe; `init` checks it. Slot indices stay valid while the storage grows
/// (only addresses move, and no address outlives one access).
struct StreamTable {
    private var slots: UnsafeMutablePointer<StreamState>
    private var capacity: Int
    /// Slots handed out so far (the high-water mark); below it, a slot is in use or free.
    private var used = 0
    private var freeSlots: UnsafeMutablePointer<Int32>
    private var freeCount = 0
    private var slotByID: HTTP2StreamMap<Int32>

    init(expectedStreams: Int) {
        precondition(_isPOD(StreamState.self), "StreamState must stay a plain value for StreamTable's raw storage")
        capacity = max(expectedStreams, 4)
        slots = .allocate(capacity: capacity)
        freeSlots = .allocate(capacity: capacity)
        slotByID = HTTP2StreamMap(expected: expectedStreams)
    }

    func deallocate() {
        slots.deallocate()
        freeSlots.deallocate()
        slotByID.deallocate()
    }

    var count: Int { slotByID.count }

    @inline(__always)
    func slot(of id: Int32) -> Int? { slotByID[id].map(Int.init) }

    /// A fresh slot for `id` (client streams get theirs once nghttp2 assigned the id: `assign`).
    mutating func allocate(id: Int32) -> Int {
        let slot: Int
        if freeCount > 0 {
            freeCount -= 1
            slot = Int(freeSlots[freeCount])
            slots[slot] = StreamState()
        } else {
            if used == capacity { grow() }
            slot = used
            (slots + slot).initialize(to: StreamState())
            used += 1
        }
        if id > 0 { assign(id: id, to: slot) }
        return slot
    }

    mutating func assign(id: Int32, to slot: Int) {
        self[slot].id = id
        slotByID.insert(id, Int32(slot))
    }

    mutating func release(_ slot: Int) {
        if self[slot].id > 0 { slotByID.removeValue(for: self[slot].id) }
        slots[slot] = StreamState()
        // SAFETY: at most `used` <= capacity slots can be free at once.
        freeSlots[freeCount] = Int32(slot)
        freeCount += 1
    }

    @inline(__always)
    subscript(slot: Int) -> StreamState {
        unsafeAddress {
            assert(slot >= 0 && slot < used, "StreamTable: slot \(slot) out of range")
            // SAFETY: slots below `used` are initialised; callers hold slot indices the table gave.
            return UnsafePointer(slots + slot)
        }
        nonmutating unsafeMutableAddress {
            assert(slot >= 0 && slot < used, "StreamTable: slot \(slot) out of range")
            return slots + slot
        }
    }

    /// Every slot in use, for teardown.
    func forEachInUse(_ body: (StreamState) -> Void) {
        slotByID.forEach { _, slot in body(self[Int(slot)]) }
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newSlots = UnsafeMutablePointer<StreamState>.allocate(capacity: newCapacity)
        newSlots.moveInitialize(from: slots, count: used)
        slots.deallocate()
        slots = newSlots
        let newFree = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
        newFree.moveInitialize(from: freeSlots, count: freeCount)
        freeSlots.deallocate()
        freeSlots = newFree
        capacity = newCapacity
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

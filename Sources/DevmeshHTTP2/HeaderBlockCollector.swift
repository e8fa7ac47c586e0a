internal import CNghttp2
import DevmeshBytes

/// Gathers the fields of the header block being received, so the delegate gets the whole list at
/// once (routing needs every field, and a block can span HEADERS + CONTINUATION frames split
/// across `receive` calls).
///
/// Nothing is copied: nghttp2 hands each decoded name and value over in a reference-counted
/// buffer (`nghttp2_rcbuf`); the collector takes a reference on both and points a `HeaderField`
/// at their bytes. The references are dropped once the block is delivered, when a new block
/// starts, or when the session goes away (before nghttp2's memory is freed). Only one block is in
/// flight per connection (RFC 9113 §6.10: nothing may interleave with a header block), so one
/// collector per session suffices. Its arrays grow to the largest block seen, which
/// `maxHeaderFieldCount` bounds.
struct HeaderBlockCollector {
    private var fields: UnsafeMutablePointer<HeaderField>
    private var buffers: UnsafeMutablePointer<OpaquePointer?>
    private var capacity: Int
    private(set) var count = 0
    /// Slot of the stream whose block this is (-1: none).
    var slot = -1

    init(initialCapacity: Int) {
        capacity = initialCapacity
        fields = .allocate(capacity: initialCapacity)
        buffers = .allocate(capacity: 2 * initialCapacity)
    }

    func deallocate() {
        fields.deallocate()
        buffers.deallocate()
    }

    /// Keeps `name` and `value` alive and records the field; `nameBytes` and `valueBytes` are
    /// their contents (`nghttp2_rcbuf_get_buf`, which the caller already asked for).
    @inline(__always)
    mutating func append(name: OpaquePointer, value: OpaquePointer, nameBytes: nghttp2_vec, valueBytes: nghttp2_vec) {
        if count == capacity { grow() }
        nghttp2_rcbuf_incref(name)
        nghttp2_rcbuf_incref(value)
        buffers[2 * count] = name
        buffers[2 * count + 1] = value
        // SAFETY: nghttp2 guarantees `len` readable bytes at `base` while a reference is held.
        (fields + count).initialize(to: HeaderField(name: UnsafeRawBufferPointer(start: nameBytes.base, count: nameBytes.len),
                                                    value: UnsafeRawBufferPointer(start: valueBytes.base, count: valueBytes.len)))
        count += 1
    }

    /// The fields gathered so far, valid until `releaseAll`.
    var view: UnsafeBufferPointer<HeaderField> {
        UnsafeBufferPointer(start: fields, count: count)
    }

    /// Drops the references (the strings may be freed by nghttp2 from here on).
    mutating func releaseAll() {
        for index in 0..<(2 * count) {
            nghttp2_rcbuf_decref(buffers[index])
        }
        count = 0
        slot = -1
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newFields = UnsafeMutablePointer<HeaderField>.allocate(capacity: newCapacity)
        let newBuffers = UnsafeMutablePointer<OpaquePointer?>.allocate(capacity: 2 * newCapacity)
        // SAFETY: both old arrays hold `count` (resp. 2 * count) initialised entries and the new
        // ones have room for twice that.
        newFields.moveInitialize(from: fields, count: count)
        newBuffers.moveInitialize(from: buffers, count: 2 * count)
        fields.deallocate()
        buffers.deallocate()
        fields = newFields
        buffers = newBuffers
        capacity = newCapacity
    }
}

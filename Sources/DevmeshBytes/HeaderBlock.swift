import Glibc

/// An owned copy of a header list: the bytes of every name and value in one growable arena,
/// and `HeaderField` views into it. Used where a header list must outlive the memory it arrived
/// in (an HTTP/2 header block is only valid during nghttp2's callback) or is built up field by
/// field (a translated head). Reused: `removeAll()` keeps the capacity, so a pooled block
/// allocates nothing in steady state.
///
/// Growing the arena moves it, so the views are rebuilt from offsets after every growth:
/// `fields` is always valid until the next mutation.
public final class HeaderBlock {
    private var bytes: UnsafeMutableRawPointer
    private var byteCapacity: Int
    private var byteCount = 0
    private var slots: UnsafeMutablePointer<HeaderField>
    private var offsets: UnsafeMutablePointer<(name: Int32, value: Int32)>
    private var slotCapacity: Int
    public private(set) var count = 0

    public init(byteCapacity: Int = 1024, fieldCapacity: Int = 16) {
        self.byteCapacity = max(byteCapacity, 64)
        self.slotCapacity = max(fieldCapacity, 4)
        guard let arena = malloc(self.byteCapacity) else { fatalError("devmesh: out of memory (header block)") }
        bytes = arena
        slots = .allocate(capacity: slotCapacity)
        offsets = .allocate(capacity: slotCapacity)
    }

    deinit {
        free(bytes)
        slots.deallocate()
        offsets.deallocate()
    }

    /// The fields, in the order they were appended. Valid until the next mutation.
    public var fields: UnsafeBufferPointer<HeaderField> {
        UnsafeBufferPointer(start: slots, count: count)
    }

    public var isEmpty: Bool { count == 0 }
    /// Bytes of names and values (for header-list size limits).
    public var byteSize: Int { byteCount }

    public func removeAll() {
        count = 0
        byteCount = 0
    }

    /// Appends a copy of `name` and `value`.
    public func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        reserve(bytes: name.count + value.count, fields: 1)
        appendReserved(name: name, value: value)
    }

    /// Appends a copy of every field, growing the storage at most once (an HTTP/2 header block
    /// taken over whole: one size check instead of one per field).
    public func append(contentsOf fields: UnsafeBufferPointer<HeaderField>) {
        var bytes = 0
        for field in fields { bytes += field.name.count + field.value.count }
        reserve(bytes: bytes, fields: fields.count)
        for field in fields { appendReserved(name: field.name, value: field.value) }
    }

    /// Appends a field `reserve` made room for.
    @inline(__always)
    private func appendReserved(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameOffset = byteCount
        copy(name)
        let valueOffset = byteCount
        copy(value)
        offsets[count] = (Int32(nameOffset), Int32(valueOffset))
        slots[count] = HeaderField(
            name: UnsafeRawBufferPointer(start: bytes + nameOffset, count: name.count),
            value: UnsafeRawBufferPointer(start: bytes + valueOffset, count: value.count))
        count += 1
    }

    public func append(name: StaticString, value: UnsafeRawBufferPointer) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value)
    }

    public func append(name: StaticString, value: StaticString) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
               value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Appends `name` lower-cased (HTTP/2 requires lower-case names; HTTP/1.1 sends any case).
    public func appendLowercasingName(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        append(name: name, value: value)
        let field = slots[count - 1]
        let start = UnsafeMutableRawPointer(mutating: field.name.baseAddress)
        for index in 0..<field.name.count {
            // SAFETY: the name was just copied into our arena at this address.
            start?.storeBytes(of: ASCII.lower(field.name[index]), toByteOffset: index, as: UInt8.self)
        }
    }

    @inline(__always)
    private func copy(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0, let base = source.baseAddress else { return }
        // SAFETY: reserve() made room for these bytes.
        ShortCopy.copy(from: base, to: bytes + byteCount, count: source.count)
        byteCount += source.count
    }

    private func reserve(bytes needed: Int, fields: Int) {
        if byteCount + needed > byteCapacity {
            var capacity = byteCapacity * 2
            while capacity < byteCount + needed { capacity *= 2 }
            guard let grown = realloc(bytes, capacity) else { fatalError("devmesh: out of memory (header block)") }
            bytes = grown
            byteCapacity = capacity
            rebuildViews()
        }
        if count + fields > slotCapacity {
            let capacity = max(slotCapacity * 2, count + fields)
            let newSlots = UnsafeMutablePointer<HeaderField>.allocate(capacity: capacity)
            let newOffsets = UnsafeMutablePointer<(name: Int32, value: Int32)>.allocate(capacity: capacity)
            newSlots.moveInitialize(from: slots, count: count)
            newOffsets.moveInitialize(from: offsets, count: count)
            slots.deallocate()
            offsets.deallocate()
            slots = newSlots
            offsets = newOffsets
            slotCapacity = capacity
        }
    }

    /// Points every view at the (moved) arena again.
    private func rebuildViews() {
        for index in 0..<count {
            let (nameOffset, valueOffset) = offsets[index]
            let nameCount = slots[index].name.count
            let valueCount = slots[index].value.count
            slots[index] = HeaderField(
                name: UnsafeRawBufferPointer(start: bytes + Int(nameOffset), count: nameCount),
                value: UnsafeRawBufferPointer(start: bytes + Int(valueOffset), count: valueCount))
        }
    }
}

import DevmeshBytes

/// Per-line facts the parser records next to each `HeaderField`, for the code that forwards the
/// head (which lines to drop) and for the code that interprets it (which field is which).
public struct HeaderLine: Sendable, Equatable {
    /// Offset of the line's first byte from the start of the buffer that was parsed.
    public var lineStart: UInt32
    /// Length of the whole line, its CRLF included.
    public var lineLength: UInt32
    public var kind: KnownHeader
    /// True when the line must not be forwarded (RFC 9110 §7.6.1).
    public var hopByHop: Bool

    @inlinable
    public init(lineStart: UInt32, lineLength: UInt32, kind: KnownHeader, hopByHop: Bool) {
        self.lineStart = lineStart
        self.lineLength = lineLength
        self.kind = kind
        self.hopByHop = hopByHop
    }

    /// Offset just past the line's LF.
    @inlinable
    public var lineEnd: Int { Int(lineStart) + Int(lineLength) }
}

/// Fixed-capacity slots for the fields of one head, allocated once (per connection or per
/// worker) and reused by every parse, so that parsing never allocates.
///
/// `fields` and `lines` are parallel: entry `i` of each describes the same line. The views in
/// `fields` point into the parsed buffer and are valid only while that buffer is unchanged:
/// read them (routing) before the head is rewritten or the buffer reused.
///
/// Not thread-safe: a storage belongs to the worker thread that parses with it.
public final class HeaderStorage {
    /// The most fields one parse can record. It must be at least `HTTP1Limits.maxHeaderCount`.
    public let capacity: Int
    @usableFromInline let fieldSlots: UnsafeMutablePointer<HeaderField>
    @usableFromInline let lineSlots: UnsafeMutablePointer<HeaderLine>
    /// Number of valid entries: set by the last parse (0 after an incomplete or invalid one).
    public internal(set) var count: Int = 0

    public init(capacity: Int = HTTP1Limits.defaultMaxHeaderCount) {
        precondition(capacity > 0, "a header storage needs at least one slot")
        self.capacity = capacity
        // SAFETY: both blocks hold exactly `capacity` initialized elements for the storage's
        // whole life; parsers write only below `capacity` and readers only below `count`.
        fieldSlots = .allocate(capacity: capacity)
        fieldSlots.initialize(repeating: HeaderField(name: UnsafeRawBufferPointer(start: nil, count: 0),
                                                     value: UnsafeRawBufferPointer(start: nil, count: 0)),
                              count: capacity)
        lineSlots = .allocate(capacity: capacity)
        lineSlots.initialize(repeating: HeaderLine(lineStart: 0, lineLength: 0, kind: .other, hopByHop: false),
                             count: capacity)
    }

    deinit {
        // Both element types are trivial, so deallocating without deinitializing is correct.
        fieldSlots.deallocate()
        lineSlots.deallocate()
    }

    /// The fields of the last parse, in order of appearance.
    @inlinable
    public var fields: UnsafeBufferPointer<HeaderField> {
        // SAFETY: count <= capacity, and the slots live as long as the storage.
        UnsafeBufferPointer(start: fieldSlots, count: count)
    }

    /// The per-line facts of the last parse, parallel to `fields`.
    @inlinable
    public var lines: UnsafeBufferPointer<HeaderLine> {
        // SAFETY: as for `fields`.
        UnsafeBufferPointer(start: lineSlots, count: count)
    }

    /// Forgets the last parse (the slots stay allocated).
    public func removeAll() {
        count = 0
    }
}

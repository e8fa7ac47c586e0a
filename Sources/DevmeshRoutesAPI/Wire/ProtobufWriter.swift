/// Appends protobuf wire format to a byte array.
///
/// proto3 rules applied by the `write…` helpers (protobuf language guide, "Default Values" and
/// "Field Presence"): a scalar equal to its default (0, empty string, the enum's 0 value) is
/// not written; a sub-message is written when present, even if empty, because message fields
/// keep presence. Fields are written in field-number order, as every official runtime does,
/// so that our bytes can be compared with theirs byte for byte.
public struct ProtobufWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    // MARK: Primitives

    public mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Bytes copied as they are (a framing prefix written ahead of a message).
    public mutating func writeRaw(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    public mutating func writeKey(_ field: UInt32, _ wireType: WireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    // MARK: proto3 fields

    /// A `string` field; omitted when empty.
    public mutating func writeString(_ field: UInt32, _ value: String) {
        let count = value.utf8.count
        guard count > 0 else { return }
        writeKey(field, .lengthDelimited)
        writeVarint(UInt64(count))
        bytes.append(contentsOf: value.utf8)
    }

    /// A `uint32` field; omitted when 0.
    public mutating func writeUInt32(_ field: UInt32, _ value: UInt32) {
        guard value != 0 else { return }
        writeKey(field, .varint)
        writeVarint(UInt64(value))
    }

    /// An enum field (an `int32` on the wire); omitted when 0. A negative value is sign-extended
    /// to 64 bits and so takes 10 bytes, as the spec requires for int32.
    public mutating func writeEnum(_ field: UInt32, _ value: Int32) {
        guard value != 0 else { return }
        writeKey(field, .varint)
        writeVarint(UInt64(bitPattern: Int64(value)))
    }

    /// A singular message field; omitted when absent (nil), written even when empty.
    public mutating func writeMessage<Message: ProtobufMessage>(_ field: UInt32, _ value: Message?) {
        guard let value else { return }
        writeNestedMessage(field, value)
    }

    /// A repeated message field: one key-length-value per element, in order.
    public mutating func writeRepeated<Message: ProtobufMessage>(_ field: UInt32, _ values: [Message]) {
        for value in values { writeNestedMessage(field, value) }
    }

    private mutating func writeNestedMessage<Message: ProtobufMessage>(_ field: UInt32, _ value: Message) {
        writeKey(field, .lengthDelimited)
        writeVarint(UInt64(value.encodedSize))
        value.encode(to: &self)
    }
}

/// Sizes matching `ProtobufWriter`'s omissions, so a message can size itself before it is written.
public enum FieldSize {
    @inlinable
    public static func string(_ field: UInt32, _ value: String) -> Int {
        let count = value.utf8.count
        return count == 0 ? 0 : WireSize.lengthDelimited(field, length: count)
    }

    @inlinable
    public static func uint32(_ field: UInt32, _ value: UInt32) -> Int {
        value == 0 ? 0 : WireSize.key(field) + WireSize.varint(UInt64(value))
    }

    @inlinable
    public static func enumValue(_ field: UInt32, _ value: Int32) -> Int {
        value == 0 ? 0 : WireSize.key(field) + WireSize.varint(UInt64(bitPattern: Int64(value)))
    }

    @inlinable
    public static func message<Message: ProtobufMessage>(_ field: UInt32, _ value: Message?) -> Int {
        guard let value else { return 0 }
        return WireSize.lengthDelimited(field, length: value.encodedSize)
    }

    @inlinable
    public static func repeated<Message: ProtobufMessage>(_ field: UInt32, _ values: [Message]) -> Int {
        values.reduce(0) { $0 + WireSize.lengthDelimited(field, length: $1.encodedSize) }
    }
}

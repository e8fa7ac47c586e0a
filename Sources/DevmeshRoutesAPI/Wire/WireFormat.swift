/// The protobuf wire types (protobuf encoding spec, "Message Structure"). A field's key on the
/// wire is the varint `(field_number << 3) | wire_type`.
public enum WireType: UInt8, Sendable {
    /// int32, int64, uint32, uint64, sint32, sint64, bool, enum.
    case varint = 0
    /// fixed64, sfixed64, double.
    case fixed64 = 1
    /// string, bytes, embedded messages, packed repeated fields.
    case lengthDelimited = 2
    /// Deprecated proto2 groups; never produced here, but skipped when met as an unknown field.
    case startGroup = 3
    case endGroup = 4
    /// fixed32, sfixed32, float.
    case fixed32 = 5
}

/// A decoded field key: which field, and how its value is laid out.
public struct FieldKey: Equatable, Sendable {
    public var number: UInt32
    public var wireType: WireType

    public init(number: UInt32, wireType: WireType) {
        self.number = number
        self.wireType = wireType
    }
}

/// Why bytes are not a valid encoding of the expected message. Decoding never traps on input:
/// every malformed shape ends here, typed (no boxing of `any Error`).
public enum ProtobufDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ends inside a key, a varint, a fixed-width value or a length-delimited value.
    case truncated
    /// A varint longer than 10 bytes (the most a 64-bit value needs).
    case malformedVarint
    /// Wire types 6 and 7 do not exist.
    case invalidWireType(UInt8)
    /// Field number 0, or one above 2^29 - 1 (the largest the spec allows).
    case invalidFieldNumber(UInt64)
    /// A length prefix larger than the bytes that follow it.
    case lengthOutOfBounds
    /// A `string` field whose bytes are not UTF-8 (proto3 requires valid UTF-8).
    case invalidUTF8(field: String)
    /// An end-group key with no matching start, or a start-group never closed.
    case unbalancedGroup
    /// Groups (or messages) nested deeper than `ProtobufReader.maxDepth`.
    case nestingTooDeep

    public var description: String {
        switch self {
        case .truncated: "protobuf: input ends inside a field"
        case .malformedVarint: "protobuf: varint longer than 10 bytes"
        case .invalidWireType(let type): "protobuf: invalid wire type \(type)"
        case .invalidFieldNumber(let number): "protobuf: invalid field number \(number)"
        case .lengthOutOfBounds: "protobuf: length prefix runs past the end of the input"
        case .invalidUTF8(let field): "protobuf: field \(field) is not valid UTF-8"
        case .unbalancedGroup: "protobuf: unbalanced group markers"
        case .nestingTooDeep: "protobuf: nesting deeper than \(ProtobufReader.maxDepth)"
        }
    }
}

/// Size helpers shared by the encoder's two passes (size, then bytes).
public enum WireSize {
    /// Bytes needed to encode `value` as a varint (1...10).
    @inlinable
    public static func varint(_ value: UInt64) -> Int {
        // Each byte carries 7 bits; a zero value still takes one byte.
        let bits = 64 - value.leadingZeroBitCount
        return bits == 0 ? 1 : (bits + 6) / 7
    }

    /// Bytes of a key for `field` (any wire type).
    @inlinable
    public static func key(_ field: UInt32) -> Int {
        varint(UInt64(field) << 3)
    }

    /// Bytes of a length-delimited field carrying `length` bytes: key, length, payload.
    @inlinable
    public static func lengthDelimited(_ field: UInt32, length: Int) -> Int {
        key(field) + varint(UInt64(length)) + length
    }
}

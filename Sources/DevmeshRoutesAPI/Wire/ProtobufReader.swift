/// Reads protobuf wire format from borrowed bytes, with every read bounds-checked against the
/// input: malformed or hostile input becomes a `ProtobufDecodingError`, never a trap or an
/// over-read. This is the only type in the module that touches raw memory.
public struct ProtobufReader {
    /// Deepest nesting of messages and groups accepted (the schema itself nests 4 deep).
    public static let maxDepth = 64
    /// Largest valid field number (protobuf encoding spec: field numbers are 1 ... 2^29 - 1).
    static let maxFieldNumber: UInt64 = (1 << 29) - 1

    private let buffer: UnsafeRawBufferPointer
    private var position = 0
    /// How many messages enclose the one being read (0 for the outermost).
    let depth: Int

    public init(_ buffer: UnsafeRawBufferPointer, depth: Int = 0) {
        self.buffer = buffer
        self.depth = depth
    }

    public var isAtEnd: Bool { position >= buffer.count }

    // MARK: Keys and scalars

    /// The next field key, or nil at the end of the input.
    public mutating func nextKey() throws(ProtobufDecodingError) -> FieldKey? {
        guard !isAtEnd else { return nil }
        let raw = try readVarint()
        guard let wireType = WireType(rawValue: UInt8(truncatingIfNeeded: raw & 7)) else {
            throw .invalidWireType(UInt8(truncatingIfNeeded: raw & 7))
        }
        let number = raw >> 3
        guard number >= 1, number <= ProtobufReader.maxFieldNumber else { throw .invalidFieldNumber(number) }
        return FieldKey(number: UInt32(number), wireType: wireType)
    }

    /// A base-128 varint, least significant group first. Bits beyond 64 in a 10th byte are
    /// dropped, as the reference runtimes do; an 11th byte is an error.
    public mutating func readVarint() throws(ProtobufDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 70 {
            guard position < buffer.count else { throw .truncated }
            // SAFETY: position < buffer.count was checked on the line above.
            let byte = buffer[position]
            position += 1
            result |= UInt64(byte & 0x7F) &<< shift
            if byte < 0x80 { return result }
            shift += 7
        }
        throw .malformedVarint
    }

    /// A `uint32` field: the varint truncated to 32 bits (protobuf's rule for 32-bit types).
    public mutating func readUInt32() throws(ProtobufDecodingError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readVarint())
    }

    /// An enum field: an `int32` varint, truncated to 32 bits.
    public mutating func readEnum() throws(ProtobufDecodingError) -> Int32 {
        Int32(truncatingIfNeeded: try readVarint())
    }

    /// The payload of a length-delimited field, as a view into the input.
    public mutating func readLengthDelimited() throws(ProtobufDecodingError) -> UnsafeRawBufferPointer {
        let length = try readVarint()
        let remaining = buffer.count - position
        guard length <= UInt64(remaining) else { throw .lengthOutOfBounds }
        let end = position + Int(length)
        // SAFETY: position <= end <= buffer.count (length <= remaining was checked above).
        let view = UnsafeRawBufferPointer(rebasing: buffer[position..<end])
        position = end
        return view
    }

    /// A `string` field; `field` names it in the error when its bytes are not UTF-8.
    public mutating func readString(field: StaticString) throws(ProtobufDecodingError) -> String {
        let bytes = try readLengthDelimited()
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidUTF8(field: field.description)
        }
        return text
    }

    /// An embedded message, merged into `existing` when the field was already seen (proto3:
    /// a repeated occurrence of a singular message field merges into the first).
    public mutating func readMessage<Message: ProtobufMessage>(merging existing: Message? = nil)
        throws(ProtobufDecodingError) -> Message {
        let body = try readLengthDelimited()
        guard depth + 1 < ProtobufReader.maxDepth else { throw .nestingTooDeep }
        var nested = ProtobufReader(body, depth: depth + 1)
        var message = existing ?? Message()
        try message.merge(from: &nested)
        return message
    }

    // MARK: Skipping unknown fields

    /// Skips the value of a field this schema does not know (or knows with another wire type).
    public mutating func skip(_ key: FieldKey) throws(ProtobufDecodingError) {
        switch key.wireType {
        case .varint: _ = try readVarint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup: try skipGroup(number: key.number)
        case .endGroup: throw .unbalancedGroup
        }
    }

    /// Skips to the end-group key matching `number`, through nested groups, without recursion.
    private mutating func skipGroup(number: UInt32) throws(ProtobufDecodingError) {
        var open: [UInt32] = [number]
        while let expected = open.last {
            guard let key = try nextKey() else { throw .unbalancedGroup }
            switch key.wireType {
            case .startGroup:
                guard depth + open.count + 1 < ProtobufReader.maxDepth else { throw .nestingTooDeep }
                open.append(key.number)
            case .endGroup:
                guard key.number == expected else { throw .unbalancedGroup }
                open.removeLast()
            default:
                try skip(key)
            }
        }
    }

    private mutating func advance(_ count: Int) throws(ProtobufDecodingError) {
        guard buffer.count - position >= count else { throw .truncated }
        position += count
    }
}

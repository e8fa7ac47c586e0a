/// A message of routes.proto with a hand-written codec.
///
/// Conforming types implement three small pieces per message (size, write, one field) and get
/// whole-message encoding and decoding from the extension below.
public protocol ProtobufMessage: Equatable, Sendable {
    /// The empty message: every field at its default, no sub-message present.
    init()
    /// Bytes `encode(to:)` writes (needed up front for the length prefix of a nested message).
    var encodedSize: Int { get }
    /// Writes the fields in field-number order.
    func encode(to writer: inout ProtobufWriter)
    /// Reads one field's value if this message knows the field with this wire type, and returns
    /// true; returns false (reading nothing) otherwise, and the field is skipped as unknown.
    mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader) throws(ProtobufDecodingError) -> Bool
}

extension ProtobufMessage {
    /// The wire encoding of the message.
    public func serializedBytes() -> [UInt8] {
        var writer = ProtobufWriter(capacity: encodedSize)
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes a whole message. Unknown fields are skipped; later occurrences of a scalar field
    /// replace earlier ones and sub-messages merge, as in every protobuf runtime.
    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) {
        self.init()
        var reader = ProtobufReader(bytes)
        try merge(from: &reader)
    }

    public init(serializedBytes bytes: [UInt8]) throws(ProtobufDecodingError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ProtobufDecodingError) in try Self(serializedBytes: raw) } }
        self = try result.get()
    }

    /// Reads fields until the reader's input ends.
    public mutating func merge(from reader: inout ProtobufReader) throws(ProtobufDecodingError) {
        while let key = try reader.nextKey() {
            if key.wireType == .endGroup { throw .unbalancedGroup }
            if try !decodeField(key, from: &reader) {
                try reader.skip(key)
            }
        }
    }
}

import DevmeshRoutesAPI

/// The write-ahead log's record framing and payloads.
///
/// ```
/// record  = length (u32, little-endian) | crc32c (u32, little-endian, of payload) | payload
/// payload = JSON: {"seq": N, "op": "putSandbox" | "deleteSandbox" | "putRouteGroup" |
///                  "deleteRouteGroup", "sandbox" | "routeGroup" | "name": ...}
/// ```
///
/// A crash can leave the last record cut anywhere; recovery keeps every record before the first
/// one that is incomplete, fails its checksum or does not decode, and cuts the file there.
/// Payloads are JSON so that `strings wal.log` is readable when something goes wrong.
enum LogRecord {
    static let headerLength = 8
    /// Far above any valid record (a sandbox is at most a few hundred KiB); a larger length is
    /// damage, not data.
    static let maxPayloadLength = 16 << 20

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerLength + payload.count)
        appendLittleEndian(UInt32(payload.count), to: &bytes)
        appendLittleEndian(CRC32C.checksum(payload), to: &bytes)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The records of a log, in order, and where the valid prefix ends.
    static func scan(_ bytes: [UInt8]) -> (payloads: [ArraySlice<UInt8>], validLength: Int) {
        var payloads: [ArraySlice<UInt8>] = []
        var offset = 0
        while bytes.count - offset >= headerLength {
            let length = Int(readLittleEndian(bytes, at: offset))
            let checksum = readLittleEndian(bytes, at: offset + 4)
            guard length <= maxPayloadLength, bytes.count - offset - headerLength >= length else { break }
            let payload = bytes[(offset + headerLength)..<(offset + headerLength + length)]
            guard CRC32C.checksum(payload) == checksum else { break }
            payloads.append(payload)
            offset += headerLength + length
        }
        return (payloads, offset)
    }

    static func encode(sequence: UInt64, _ mutation: StoreMutation) -> [UInt8] {
        var object = JSONObject()
        object.set("seq", .number(Double(sequence)))
        switch mutation {
        case .putSandbox(let sandbox):
            object.set("op", "putSandbox")
            object.set("sandbox", sandbox.storedJSON)
        case .deleteSandbox(let name):
            object.set("op", "deleteSandbox")
            object.set("name", .string(name))
        case .putRouteGroup(let group):
            object.set("op", "putRouteGroup")
            object.set("routeGroup", group.storedJSON)
        case .deleteRouteGroup(let name):
            object.set("op", "deleteRouteGroup")
            object.set("name", .string(name))
        }
        return Array(JSONValue.object(object).serialized().utf8)
    }

    static func decode(_ payload: ArraySlice<UInt8>) throws(JSONMappingError) -> (sequence: UInt64, mutation: StoreMutation) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(payload))
        } catch {
            throw JSONMappingError(path: "", message: error.description)
        }
        let fields = try JSONFields(value, path: "record")
        guard let sequence = try fields.member("seq")?.integer(in: 1...Int64.max) else {
            throw JSONMappingError(path: "record.seq", message: "missing or invalid")
        }
        let mutation: StoreMutation
        switch try fields.string("op") {
        case "putSandbox":
            mutation = .putSandbox(try Sandbox(storedJSON: try fields.member("sandbox") ?? .null))
        case "deleteSandbox":
            mutation = .deleteSandbox(try fields.string("name"))
        case "putRouteGroup":
            mutation = .putRouteGroup(try RouteGroup(storedJSON: try fields.member("routeGroup") ?? .null))
        case "deleteRouteGroup":
            mutation = .deleteRouteGroup(try fields.string("name"))
        case let other:
            throw JSONMappingError(path: "record.op", message: "unknown op \"\(other)\"")
        }
        return (UInt64(sequence), mutation)
    }

    private static func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    private static func readLittleEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }
}

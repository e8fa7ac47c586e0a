/// A value of the wrong JSON shape for a message field, with the path to it so the error says
/// what to fix (`routingRules[0].mappings[1].workloadPort: expected an integer ...`).
public struct JSONMappingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A message that maps to and from JSON. Reading follows proto3's JSON mapping (protobuf
/// "JSON Mapping" guide): lowerCamelCase names, the original proto field names also accepted,
/// `null` or a missing member means the default, unknown members are ignored, a uint32 may be a
/// number or a decimal string, an enum a name or a number.
public protocol JSONMappable {
    init(json: JSONValue, path: String) throws(JSONMappingError)
    /// The JSON form; see each type for which defaults it writes.
    var json: JSONValue { get }
}

extension JSONMappable {
    public init(json: JSONValue) throws(JSONMappingError) {
        try self.init(json: json, path: "")
    }

    /// Parses `bytes` as JSON, then maps it; a syntax error is reported at the root path.
    public init(jsonBytes bytes: [UInt8]) throws(JSONMappingError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw JSONMappingError(path: "", message: error.description)
        }
        try self.init(json: value, path: "")
    }
}

/// The members of one JSON object, read as proto3 fields.
public struct JSONFields {
    public let object: JSONObject
    public let path: String

    public init(_ value: JSONValue, path: String) throws(JSONMappingError) {
        guard let object = value.objectValue else {
            throw JSONMappingError(path: path, message: "expected an object, got \(value.typeName)")
        }
        self.object = object
        self.path = path
    }

    public func path(_ name: String) -> String {
        path.isEmpty ? name : "\(path).\(name)"
    }

    /// The member called `name` (or `protoName`, the original field name), nil when absent or null.
    public func member(_ name: String, _ protoName: String? = nil) throws(JSONMappingError) -> JSONValue? {
        let primary = object[name]
        let alternate = protoName.flatMap { object[$0] }
        if primary != nil, alternate != nil {
            throw JSONMappingError(path: path(name), message: "given twice, as \(name) and \(protoName!)")
        }
        let value = primary ?? alternate
        if value == .null { return nil }
        return value
    }

    public func string(_ name: String, _ protoName: String? = nil) throws(JSONMappingError) -> String {
        guard let value = try member(name, protoName) else { return "" }
        guard let text = value.stringValue else {
            throw JSONMappingError(path: path(name), message: "expected a string, got \(value.typeName)")
        }
        return text
    }

    public func uint32(_ name: String, _ protoName: String? = nil) throws(JSONMappingError) -> UInt32 {
        guard let value = try member(name, protoName) else { return 0 }
        if let number = value.integer(in: 0...Int64(UInt32.max)) { return UInt32(number) }
        if let text = value.stringValue, let number = UInt32(text) { return number }
        throw JSONMappingError(path: path(name), message: "expected an integer from 0 to 4294967295, got \(value.typeName)")
    }

    public func message<Message: JSONMappable>(_ name: String, _ protoName: String? = nil)
        throws(JSONMappingError) -> Message? {
        guard let value = try member(name, protoName) else { return nil }
        return try Message(json: value, path: path(name))
    }

    public func repeated<Message: JSONMappable>(_ name: String, _ protoName: String? = nil)
        throws(JSONMappingError) -> [Message] {
        guard let value = try member(name, protoName) else { return [] }
        guard let elements = value.arrayValue else {
            throw JSONMappingError(path: path(name), message: "expected an array, got \(value.typeName)")
        }
        var result: [Message] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try Message(json: element, path: "\(path(name))[\(index)]"))
        }
        return result
    }

    public func watchOp(_ name: String) throws(JSONMappingError) -> WatchOp {
        guard let value = try member(name) else { return .add }
        if let text = value.stringValue, let op = WatchOp(name: text) { return op }
        if let number = value.integer(in: Int64(Int32.min)...Int64(Int32.max)) { return WatchOp(rawValue: Int32(number)) }
        throw JSONMappingError(path: path(name), message: "expected ADD, REMOVE, REPLACE or SYNCED")
    }
}

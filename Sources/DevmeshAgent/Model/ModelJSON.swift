import DevmeshRoutesAPI
import Glibc

/// JSON forms of the model: the REST API's request bodies (specs), and the stored and returned
/// form of sandboxes and route groups.
///
/// Unlike the Routes API messages (which ignore unknown members, as proto3 JSON does), our own
/// REST bodies refuse unknown members: a misspelt `fork` would otherwise be dropped silently.

extension JSONFields {
    /// Throws when the object has a member not in `known`, naming it and the known ones.
    func requireOnly(_ known: [String]) throws(JSONMappingError) {
        for key in object.keys where !known.contains(key) {
            throw JSONMappingError(path: path(key), message: "unknown field; known fields here: \(known.joined(separator: ", "))")
        }
    }

    func stringMap(_ name: String) throws(JSONMappingError) -> [String: String] {
        guard let value = try member(name) else { return [:] }
        guard let object = value.objectValue else {
            throw JSONMappingError(path: path(name), message: "expected an object of strings, got \(value.typeName)")
        }
        var result: [String: String] = [:]
        for (key, element) in object.members {
            guard let text = element.stringValue else {
                throw JSONMappingError(path: "\(path(name)).\(key)", message: "expected a string, got \(element.typeName)")
            }
            result[key] = text
        }
        return result
    }

    func stringList(_ name: String) throws(JSONMappingError) -> [String] {
        guard let value = try member(name) else { return [] }
        guard let array = value.arrayValue else {
            throw JSONMappingError(path: path(name), message: "expected an array of strings, got \(value.typeName)")
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.stringValue else {
                throw JSONMappingError(path: "\(path(name))[\(index)]", message: "expected a string, got \(element.typeName)")
            }
            result.append(text)
        }
        return result
    }

    /// A string member that may be absent (nil), unlike `string`, which defaults to "".
    func optionalString(_ name: String) throws(JSONMappingError) -> String? {
        guard let value = try member(name) else { return nil }
        guard let text = value.stringValue else {
            throw JSONMappingError(path: path(name), message: "expected a string, got \(value.typeName)")
        }
        return text
    }

    func integer(_ name: String) throws(JSONMappingError) -> Int64 {
        guard let value = try member(name) else { return 0 }
        guard let number = value.integer(in: Int64.min...Int64.max) else {
            throw JSONMappingError(path: path(name), message: "expected an integer, got \(value.typeName)")
        }
        return number
    }
}

extension JSONValue {
    static func stringMap(_ map: [String: String]) -> JSONValue {
        var object = JSONObject()
        for key in map.keys.sorted() { object.set(key, .string(map[key]!)) }
        return .object(object)
    }
}

// MARK: - Forks

extension Fork: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        try fields.requireOnly(["forkOf", "ports"])
        guard let forkOf = try fields.member("forkOf") else {
            throw JSONMappingError(path: fields.path("forkOf"), message: "required: the baseline workload {kind, namespace, name}")
        }
        try JSONFields(forkOf, path: fields.path("forkOf")).requireOnly(["kind", "namespace", "name"])
        var ports: [WorkloadPortMapping] = []
        if let list = try fields.member("ports") {
            guard let elements = list.arrayValue else {
                throw JSONMappingError(path: fields.path("ports"), message: "expected an array, got \(list.typeName)")
            }
            for (index, element) in elements.enumerated() {
                let elementPath = "\(fields.path("ports"))[\(index)]"
                let portFields = try JSONFields(element, path: elementPath)
                try portFields.requireOnly(["workloadPort", "destinations"])
                for (position, destination) in (try portFields.member("destinations")?.arrayValue ?? []).enumerated() {
                    try JSONFields(destination, path: "\(portFields.path("destinations"))[\(position)]")
                        .requireOnly(["host", "port"])
                }
                ports.append(try WorkloadPortMapping(json: element, path: elementPath))
            }
        }
        self.init(forkOf: try BaselineWorkload(json: forkOf, path: fields.path("forkOf")), ports: ports)
    }

    public var json: JSONValue {
        ["forkOf": forkOf.json, "ports": .array(ports.map(\.json))]
    }
}

// MARK: - Sandboxes

extension SandboxSpec: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        try fields.requireOnly(["name", "routingKey", "labels", "forks"])
        self.init(name: try fields.string("name"), routingKey: try fields.optionalString("routingKey"),
                  labels: try fields.stringMap("labels"), forks: try fields.repeated("forks"))
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.set("name", .string(name))
        if let routingKey { object.set("routingKey", .string(routingKey)) }
        if !labels.isEmpty { object.set("labels", .stringMap(labels)) }
        object.set("forks", .array(forks.map(\.json)))
        return .object(object)
    }
}

extension Sandbox {
    /// The stored form (also the core of the API's answer).
    public var storedJSON: JSONValue {
        ["name": .string(name), "routingKey": .string(routingKey), "labels": .stringMap(labels),
         "forks": .array(forks.map(\.json)), "revision": .number(Double(revision)),
         "createdAt": .number(Double(createdAt))]
    }

    public init(storedJSON json: JSONValue) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: "sandbox")
        self.init(name: try fields.string("name"), routingKey: try fields.string("routingKey"),
                  labels: try fields.stringMap("labels"), forks: try fields.repeated("forks"),
                  revision: UInt64(clamping: try fields.integer("revision")), createdAt: try fields.integer("createdAt"))
    }

    /// What the REST API returns: the stored form, the creation time in RFC 3339 and the header
    /// a client sends to reach the sandbox.
    public var apiJSON: JSONValue {
        var object = storedJSON.objectValue!
        object.set("created", .string(Timestamp.rfc3339(createdAt)))
        object.set("routingHeader", .string(routingHeader))
        return .object(object)
    }
}

// MARK: - Route groups

extension RouteGroupMatch: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        try fields.requireOnly(["sandboxes", "labels"])
        self.init(sandboxes: try fields.stringList("sandboxes"), labels: try fields.stringMap("labels"))
    }

    public var json: JSONValue {
        ["sandboxes": .array(sandboxes.map(JSONValue.string)), "labels": .stringMap(labels)]
    }
}

extension RouteGroupSpec: JSONMappable {
    public init(json: JSONValue, path: String) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: path)
        try fields.requireOnly(["name", "routingKey", "match"])
        self.init(name: try fields.string("name"), routingKey: try fields.optionalString("routingKey"),
                  match: try fields.message("match") ?? RouteGroupMatch())
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.set("name", .string(name))
        if let routingKey { object.set("routingKey", .string(routingKey)) }
        object.set("match", match.json)
        return .object(object)
    }
}

extension RouteGroup {
    public var storedJSON: JSONValue {
        ["name": .string(name), "routingKey": .string(routingKey), "match": match.json,
         "revision": .number(Double(revision)), "createdAt": .number(Double(createdAt))]
    }

    public init(storedJSON json: JSONValue) throws(JSONMappingError) {
        let fields = try JSONFields(json, path: "routeGroup")
        self.init(name: try fields.string("name"), routingKey: try fields.string("routingKey"),
                  match: try fields.message("match") ?? RouteGroupMatch(),
                  revision: UInt64(clamping: try fields.integer("revision")), createdAt: try fields.integer("createdAt"))
    }
}

// MARK: - Time

/// Wall-clock seconds and their RFC 3339 form (UTC), without Foundation.
public enum Timestamp {
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    /// RFC 3339 §5.6 `date-time` in UTC: `2025-05-28T12:00:00Z`.
    public static func rfc3339(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

/// The routing-rule messages of routes.proto (routes-api.md §2). Field numbers are in the
/// `decodeField` switches and the `encode` calls; they must never change (wire compatibility).

/// A baseline workload. In a request filter any field may be empty (no filter on it); in a
/// response every field is set.
public struct BaselineWorkload: Hashable, Sendable {
    /// e.g. `Deployment`, `ArgoRollout`.
    public var kind: String
    public var namespace: String
    public var name: String

    public init(kind: String = "", namespace: String = "", name: String = "") {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }
}

/// The sandbox that receives a rule's traffic.
public struct DestinationSandbox: Hashable, Sendable {
    public var name: String

    public init(name: String = "") {
        self.name = name
    }
}

/// A TCP address of a sandboxed Service.
public struct Location: Hashable, Sendable {
    public var host: String
    public var port: UInt32

    public init(host: String = "", port: UInt32 = 0) {
        self.host = host
        self.port = port
    }
}

/// A workload (container) port and the sandbox addresses that serve it.
public struct WorkloadPortMapping: Hashable, Sendable {
    public var workloadPort: UInt32
    public var destinations: [Location]

    public init(workloadPort: UInt32 = 0, destinations: [Location] = []) {
        self.workloadPort = workloadPort
        self.destinations = destinations
    }
}

/// Requests for `baseline` that carry `routingKey` go to `mappings` instead. The identity of
/// a rule is (routingKey, baseline); see `RuleIdentity`.
public struct WorkloadRoutingRule: Hashable, Sendable {
    public var routingKey: String
    /// Present in every rule the agent produces; optional on the wire (proto3 message field).
    public var baseline: BaselineWorkload?
    public var destinationSandbox: DestinationSandbox?
    public var mappings: [WorkloadPortMapping]

    public init(routingKey: String = "", baseline: BaselineWorkload? = nil,
                destinationSandbox: DestinationSandbox? = nil, mappings: [WorkloadPortMapping] = []) {
        self.routingKey = routingKey
        self.baseline = baseline
        self.destinationSandbox = destinationSandbox
        self.mappings = mappings
    }

    /// The pair that names this rule in a watch stream (routes-api.md §2).
    public var identity: RuleIdentity {
        RuleIdentity(routingKey: routingKey, baseline: baseline ?? BaselineWorkload())
    }
}

/// What identifies a rule: its routing key and its baseline workload. A REPLACE keeps it; a
/// REMOVE names it.
public struct RuleIdentity: Hashable, Sendable, Comparable {
    public var routingKey: String
    public var baseline: BaselineWorkload

    public init(routingKey: String, baseline: BaselineWorkload) {
        self.routingKey = routingKey
        self.baseline = baseline
    }

    /// A stable order (namespace, kind, name, key) so lists and initial watch snapshots are
    /// deterministic.
    public static func < (lhs: RuleIdentity, rhs: RuleIdentity) -> Bool {
        (lhs.baseline.namespace, lhs.baseline.kind, lhs.baseline.name, lhs.routingKey)
            < (rhs.baseline.namespace, rhs.baseline.kind, rhs.baseline.name, rhs.routingKey)
    }
}

// MARK: - Codec

extension BaselineWorkload: ProtobufMessage {
    public init() { self.init(kind: "", namespace: "", name: "") }

    public var encodedSize: Int {
        FieldSize.string(1, kind) + FieldSize.string(2, namespace) + FieldSize.string(3, name)
    }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, kind)
        writer.writeString(2, namespace)
        writer.writeString(3, name)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited): kind = try reader.readString(field: "BaselineWorkload.kind")
        case (2, .lengthDelimited): namespace = try reader.readString(field: "BaselineWorkload.namespace")
        case (3, .lengthDelimited): name = try reader.readString(field: "BaselineWorkload.name")
        default: return false
        }
        return true
    }
}

extension DestinationSandbox: ProtobufMessage {
    public init() { self.init(name: "") }

    public var encodedSize: Int { FieldSize.string(1, name) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, name)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        guard key.number == 1, key.wireType == .lengthDelimited else { return false }
        name = try reader.readString(field: "DestinationSandbox.name")
        return true
    }
}

extension Location: ProtobufMessage {
    public init() { self.init(host: "", port: 0) }

    public var encodedSize: Int { FieldSize.string(1, host) + FieldSize.uint32(2, port) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, host)
        writer.writeUInt32(2, port)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited): host = try reader.readString(field: "Location.host")
        case (2, .varint): port = try reader.readUInt32()
        default: return false
        }
        return true
    }
}

extension WorkloadPortMapping: ProtobufMessage {
    public init() { self.init(workloadPort: 0, destinations: []) }

    public var encodedSize: Int { FieldSize.uint32(1, workloadPort) + FieldSize.repeated(2, destinations) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeUInt32(1, workloadPort)
        writer.writeRepeated(2, destinations)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .varint): workloadPort = try reader.readUInt32()
        case (2, .lengthDelimited): destinations.append(try reader.readMessage())
        default: return false
        }
        return true
    }
}

extension WorkloadRoutingRule: ProtobufMessage {
    public init() { self.init(routingKey: "", baseline: nil, destinationSandbox: nil, mappings: []) }

    public var encodedSize: Int {
        FieldSize.string(1, routingKey) + FieldSize.message(2, baseline)
            + FieldSize.message(3, destinationSandbox) + FieldSize.repeated(4, mappings)
    }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, routingKey)
        writer.writeMessage(2, baseline)
        writer.writeMessage(3, destinationSandbox)
        writer.writeRepeated(4, mappings)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited): routingKey = try reader.readString(field: "WorkloadRoutingRule.routing_key")
        case (2, .lengthDelimited): baseline = try reader.readMessage(merging: baseline)
        case (3, .lengthDelimited): destinationSandbox = try reader.readMessage(merging: destinationSandbox)
        case (4, .lengthDelimited): mappings.append(try reader.readMessage())
        default: return false
        }
        return true
    }
}

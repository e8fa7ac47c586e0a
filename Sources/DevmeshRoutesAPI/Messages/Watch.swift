/// The request, response and stream messages of the two routing-rule methods
/// (`GetWorkloadRoutingRules`, `WatchWorkloadRoutingRules`).

/// The filters of a Get or Watch call. Every field is optional: an absent or empty one does not
/// filter (routes-api.md §2).
public struct WorkloadRoutingRulesRequest: Hashable, Sendable {
    public var baselineWorkload: BaselineWorkload?
    public var routingKey: String
    public var destinationSandbox: DestinationSandbox?

    public init(baselineWorkload: BaselineWorkload? = nil, routingKey: String = "",
                destinationSandbox: DestinationSandbox? = nil) {
        self.baselineWorkload = baselineWorkload
        self.routingKey = routingKey
        self.destinationSandbox = destinationSandbox
    }

    /// Whether `rule` is in the set this request selects. Each non-empty filter field must equal
    /// the rule's; empty fields match anything (so the default request selects every rule).
    public func matches(_ rule: WorkloadRoutingRule) -> Bool {
        if !routingKey.isEmpty, rule.routingKey != routingKey { return false }
        if let wanted = baselineWorkload {
            let baseline = rule.baseline ?? BaselineWorkload()
            if !wanted.kind.isEmpty, baseline.kind != wanted.kind { return false }
            if !wanted.namespace.isEmpty, baseline.namespace != wanted.namespace { return false }
            if !wanted.name.isEmpty, baseline.name != wanted.name { return false }
        }
        if let wanted = destinationSandbox, !wanted.name.isEmpty,
           rule.destinationSandbox?.name != wanted.name { return false }
        return true
    }
}

/// The answer of `GetWorkloadRoutingRules`.
public struct GetWorkloadRoutingRulesResponse: Hashable, Sendable {
    public var routingRules: [WorkloadRoutingRule]

    public init(routingRules: [WorkloadRoutingRule] = []) {
        self.routingRules = routingRules
    }
}

/// `enum WatchOp`. proto3 enums are open: a value this code does not know is kept as its number
/// (so it round-trips), and a consumer decides what an unknown op means (the proxy treats it as
/// a malformed stream).
public struct WatchOp: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public static let add = WatchOp(rawValue: 0)
    public static let remove = WatchOp(rawValue: 1)
    public static let replace = WatchOp(rawValue: 2)
    /// At most one per stream; only ADDs come before it.
    public static let synced = WatchOp(rawValue: 3)

    /// The name in routes.proto, or nil for a value it does not define.
    public var name: String? {
        switch rawValue {
        case 0: "ADD"
        case 1: "REMOVE"
        case 2: "REPLACE"
        case 3: "SYNCED"
        default: nil
        }
    }

    public init?(name: String) {
        switch name {
        case "ADD": self = .add
        case "REMOVE": self = .remove
        case "REPLACE": self = .replace
        case "SYNCED": self = .synced
        default: return nil
        }
    }

    public var description: String { name ?? "WatchOp(\(rawValue))" }
}

/// One message of the watch stream. A SYNCED op carries no rule.
public struct WorkloadRoutingRuleOp: Hashable, Sendable {
    public var op: WatchOp
    public var route: WorkloadRoutingRule?

    public init(op: WatchOp = .add, route: WorkloadRoutingRule? = nil) {
        self.op = op
        self.route = route
    }
}

// MARK: - Codec

extension WorkloadRoutingRulesRequest: ProtobufMessage {
    public init() { self.init(baselineWorkload: nil, routingKey: "", destinationSandbox: nil) }

    public var encodedSize: Int {
        FieldSize.message(1, baselineWorkload) + FieldSize.string(2, routingKey)
            + FieldSize.message(3, destinationSandbox)
    }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeMessage(1, baselineWorkload)
        writer.writeString(2, routingKey)
        writer.writeMessage(3, destinationSandbox)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited): baselineWorkload = try reader.readMessage(merging: baselineWorkload)
        case (2, .lengthDelimited):
            routingKey = try reader.readString(field: "WorkloadRoutingRulesRequest.routing_key")
        case (3, .lengthDelimited): destinationSandbox = try reader.readMessage(merging: destinationSandbox)
        default: return false
        }
        return true
    }
}

extension GetWorkloadRoutingRulesResponse: ProtobufMessage {
    public init() { self.init(routingRules: []) }

    public var encodedSize: Int { FieldSize.repeated(1, routingRules) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeRepeated(1, routingRules)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        guard key.number == 1, key.wireType == .lengthDelimited else { return false }
        routingRules.append(try reader.readMessage())
        return true
    }
}

extension WorkloadRoutingRuleOp: ProtobufMessage {
    public init() { self.init(op: .add, route: nil) }

    public var encodedSize: Int { FieldSize.enumValue(1, op.rawValue) + FieldSize.message(2, route) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeEnum(1, op.rawValue)
        writer.writeMessage(2, route)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .varint): op = WatchOp(rawValue: try reader.readEnum())
        case (2, .lengthDelimited): route = try reader.readMessage(merging: route)
        default: return false
        }
        return true
    }
}

/// The messages of `GetClusterServices`. The agent does not serve Services yet; the messages
/// and their codec exist so that the whole of routes.proto round-trips.

public struct GetClusterServicesRequest: Hashable, Sendable {
    public init() {}
}

public struct GetClusterServicesResponse: Hashable, Sendable {
    public var services: [ClusterService]

    public init(services: [ClusterService] = []) {
        self.services = services
    }
}

/// A Kubernetes Service; `sandboxInfo` is set only for the sandboxed copy of a Service.
public struct ClusterService: Hashable, Sendable {
    public var serviceIP: String
    public var hostname: String
    public var ports: [ClusterServicePort]
    public var sandboxInfo: SandboxedClusterService?

    public init(serviceIP: String = "", hostname: String = "", ports: [ClusterServicePort] = [],
                sandboxInfo: SandboxedClusterService? = nil) {
        self.serviceIP = serviceIP
        self.hostname = hostname
        self.ports = ports
        self.sandboxInfo = sandboxInfo
    }
}

public struct ClusterServicePort: Hashable, Sendable {
    public var name: String
    public var port: UInt32
    public var `protocol`: String
    public var appProtocol: String

    public init(name: String = "", port: UInt32 = 0, protocol: String = "", appProtocol: String = "") {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }
}

public struct SandboxedClusterService: Hashable, Sendable {
    public var sandboxRoutingKey: String
    public var baselineHostname: String

    public init(sandboxRoutingKey: String = "", baselineHostname: String = "") {
        self.sandboxRoutingKey = sandboxRoutingKey
        self.baselineHostname = baselineHostname
    }
}

// MARK: - Codec

extension GetClusterServicesRequest: ProtobufMessage {
    public var encodedSize: Int { 0 }
    public func encode(to writer: inout ProtobufWriter) {}
    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool { false }
}

extension GetClusterServicesResponse: ProtobufMessage {
    public init() { self.init(services: []) }

    public var encodedSize: Int { FieldSize.repeated(1, services) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeRepeated(1, services)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        guard key.number == 1, key.wireType == .lengthDelimited else { return false }
        services.append(try reader.readMessage())
        return true
    }
}

extension ClusterService: ProtobufMessage {
    public init() { self.init(serviceIP: "", hostname: "", ports: [], sandboxInfo: nil) }

    public var encodedSize: Int {
        FieldSize.string(1, serviceIP) + FieldSize.string(2, hostname) + FieldSize.repeated(3, ports)
            + FieldSize.message(4, sandboxInfo)
    }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, serviceIP)
        writer.writeString(2, hostname)
        writer.writeRepeated(3, ports)
        writer.writeMessage(4, sandboxInfo)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited): serviceIP = try reader.readString(field: "ClusterService.service_ip")
        case (2, .lengthDelimited): hostname = try reader.readString(field: "ClusterService.hostname")
        case (3, .lengthDelimited): ports.append(try reader.readMessage())
        case (4, .lengthDelimited): sandboxInfo = try reader.readMessage(merging: sandboxInfo)
        default: return false
        }
        return true
    }
}

extension ClusterServicePort: ProtobufMessage {
    public init() { self.init(name: "", port: 0, protocol: "", appProtocol: "") }

    public var encodedSize: Int {
        FieldSize.string(1, name) + FieldSize.uint32(2, port) + FieldSize.string(3, `protocol`)
            + FieldSize.string(4, appProtocol)
    }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, name)
        writer.writeUInt32(2, port)
        writer.writeString(3, `protocol`)
        writer.writeString(4, appProtocol)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited): name = try reader.readString(field: "ClusterServicePort.name")
        case (2, .varint): port = try reader.readUInt32()
        case (3, .lengthDelimited): `protocol` = try reader.readString(field: "ClusterServicePort.protocol")
        case (4, .lengthDelimited): appProtocol = try reader.readString(field: "ClusterServicePort.app_protocol")
        default: return false
        }
        return true
    }
}

extension SandboxedClusterService: ProtobufMessage {
    public init() { self.init(sandboxRoutingKey: "", baselineHostname: "") }

    public var encodedSize: Int { FieldSize.string(1, sandboxRoutingKey) + FieldSize.string(2, baselineHostname) }

    public func encode(to writer: inout ProtobufWriter) {
        writer.writeString(1, sandboxRoutingKey)
        writer.writeString(2, baselineHostname)
    }

    public mutating func decodeField(_ key: FieldKey, from reader: inout ProtobufReader)
        throws(ProtobufDecodingError) -> Bool {
        switch (key.number, key.wireType) {
        case (1, .lengthDelimited):
            sandboxRoutingKey = try reader.readString(field: "SandboxedClusterService.sandbox_routing_key")
        case (2, .lengthDelimited):
            baselineHostname = try reader.readString(field: "SandboxedClusterService.baseline_hostname")
        default: return false
        }
        return true
    }
}

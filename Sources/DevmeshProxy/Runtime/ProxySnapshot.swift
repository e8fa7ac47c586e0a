import DevmeshConfig
import DevmeshIO
import DevmeshRouting

/// Everything a worker needs to route and forward requests, built on the control thread and
/// published atomically to all workers: the compiled route table, every upstream address
/// resolved once (never on the request path), and the settings that a reload may change.
///
/// Immutable. A worker swaps to a new snapshot between events; in-flight exchanges finish with
/// the destination they started with.
public final class ProxySnapshot: Sendable {
    public let version: UInt64
    public let table: RouteTable
    public let configuration: ProxyConfiguration
    /// Which load of the configuration file this snapshot carries: 0 at start, one more per
    /// successful reload; a route push from the agent keeps it. A worker reopens its access log
    /// when it changes, so a reload both applies a new `access_log` and, with the path unchanged,
    /// starts a fresh file after logrotate has moved the old one (`kill -HUP` as postrotate).
    public let fileLoad: UInt64
    /// Distinct upstream addresses; an endpoint id indexes these arrays.
    let endpointAddresses: [SocketAddress]
    let endpointNames: [String]
    /// Endpoint ids of each destination, flattened: destination `d` owns
    /// `endpointIDs[destinationStart[d] ..< destinationStart[d] + destinationCount[d]]`.
    let endpointIDs: [Int32]
    let destinationStart: [Int32]
    let destinationCount: [Int32]
    /// Access-log labels, as bytes so that logging a request builds no String: per destination
    /// (`baseline:<service>` or the sandbox name) and per endpoint (`host:port`).
    let destinationLogLabels: [[UInt8]]
    let endpointLogLabels: [[UInt8]]

    private init(version: UInt64, fileLoad: UInt64, table: RouteTable, configuration: ProxyConfiguration,
                 endpointAddresses: [SocketAddress], endpointNames: [String],
                 endpointIDs: [Int32], destinationStart: [Int32], destinationCount: [Int32]) {
        self.version = version
        self.fileLoad = fileLoad
        self.table = table
        self.configuration = configuration
        self.endpointAddresses = endpointAddresses
        self.endpointNames = endpointNames
        self.endpointIDs = endpointIDs
        self.destinationStart = destinationStart
        self.destinationCount = destinationCount
        destinationLogLabels = table.destinations.map { destination in
            Array((destination.routingKey == nil ? "baseline:" + destination.name : destination.name).utf8)
        }
        endpointLogLabels = endpointNames.map { Array($0.utf8) }
    }

    /// Compiles the routing part of `configuration` and resolves every endpoint. Blocking (DNS):
    /// control thread only.
    public static func build(_ configuration: ProxyConfiguration, version: UInt64,
                             fileLoad: UInt64 = 0) throws(SnapshotError) -> ProxySnapshot {
        let table: RouteTable
        do {
            table = try RouteTable.build(configuration.routing, version: version)
        } catch {
            throw SnapshotError(message: "\(error)")
        }
        var idByName: [EndpointSpec: Int32] = [:]
        var addresses: [SocketAddress] = []
        var names: [String] = []
        var ids: [Int32] = []
        var starts: [Int32] = []
        var counts: [Int32] = []
        for destination in table.destinations {
            starts.append(Int32(ids.count))
            counts.append(Int32(destination.endpoints.count))
            for endpoint in destination.endpoints {
                if let id = idByName[endpoint] {
                    ids.append(id)
                    continue
                }
                let address: SocketAddress
                do {
                    address = try SocketAddress.resolve(host: endpoint.host, port: endpoint.port)
                } catch {
                    throw SnapshotError(message: "destination \"\(destination.name)\" endpoint \(endpoint): \(error)")
                }
                let id = Int32(addresses.count)
                idByName[endpoint] = id
                addresses.append(address)
                names.append(endpoint.description)
                ids.append(id)
            }
        }
        return ProxySnapshot(version: version, fileLoad: fileLoad, table: table, configuration: configuration,
                             endpointAddresses: addresses, endpointNames: names,
                             endpointIDs: ids, destinationStart: starts, destinationCount: counts)
    }
}

public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

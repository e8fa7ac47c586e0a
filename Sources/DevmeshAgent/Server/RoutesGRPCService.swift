import DevmeshGRPC
import DevmeshIO
import DevmeshRoutesAPI

/// The agent's gRPC port: the public Signadot Routes API (`routes.Routes`) on our own HTTP/2
/// stack. `GetWorkloadRoutingRules` answers from the rules index; `WatchWorkloadRoutingRules`
/// subscribes to it (the current rules as ADDs, one SYNCED, then every change) and streams the
/// ops with backpressure: ops wait in the watch's bounded queue while the stream's buffer is full,
/// and a watcher that falls behind the bound is ended with UNAVAILABLE so that it resyncs.
public final class RoutesGRPCAcceptor: AgentGRPCAcceptor {
    private let buffers = BufferPool(chunkSize: 16 * 1024, largeSize: 16 * 1024, chunksPerSlab: 8)
    private var connections: [ObjectIdentifier: GRPCServerConnection] = [:]
    private var service: RoutesGRPCService?

    public init() {}

    public func accept(_ fd: Int32, loop: EventLoop, service: AgentService) {
        let routes = self.service ?? RoutesGRPCService(agent: service)
        self.service = routes
        Sockets.setNoDelay(fd)
        let connection = GRPCServerConnection(fd: fd, loop: loop, buffers: buffers, service: routes) { [weak self] closed in
            self?.connections.removeValue(forKey: ObjectIdentifier(closed))
        }
        connections[ObjectIdentifier(connection)] = connection
    }
}

final class RoutesGRPCService: GRPCService {
    static let getPath = "/routes.Routes/GetWorkloadRoutingRules"
    static let watchPath = "/routes.Routes/WatchWorkloadRoutingRules"
    static let clusterServicesPath = "/routes.Routes/GetClusterServices"

    private let agent: AgentService

    init(agent: AgentService) {
        self.agent = agent
    }

    func handle(path: String, request: [UInt8], call: GRPCServerCall) {
        switch path {
        case Self.getPath:
            guard let filter = decodeFilter(request, call: call) else { return }
            let response = GetWorkloadRoutingRulesResponse(routingRules: agent.routingRules(filter))
            call.send(response.serializedBytes())
            call.finish(status: 0)
        case Self.watchPath:
            guard let filter = decodeFilter(request, call: call) else { return }
            startWatch(filter, call: call)
        case Self.clusterServicesPath:
            call.finish(status: 12, message: "GetClusterServices is not implemented by the devmesh agent")
        default:
            call.finish(status: 12, message: "unknown method \(path)")
        }
    }

    func cancelled(_ call: GRPCServerCall) {
        (call.context as? RuleWatch)?.cancel()
        call.context = nil
    }

    private func decodeFilter(_ bytes: [UInt8], call: GRPCServerCall) -> WorkloadRoutingRulesRequest? {
        do {
            return try WorkloadRoutingRulesRequest(serializedBytes: bytes)
        } catch {
            call.finish(status: 3, message: "invalid WorkloadRoutingRulesRequest: \(error)")
            return nil
        }
    }

    private func startWatch(_ filter: WorkloadRoutingRulesRequest, call: GRPCServerCall) {
        let watch = agent.index.watch(filter, onReadable: { [weak call] in
            guard let call else { return }
            RoutesGRPCService.pump(call)
        }, onDisconnect: { [weak call] reason in
            guard let call else { return }
            call.context = nil
            call.finish(status: 14, message: "the watch fell behind (\(reason)); watch again to resync")
        })
        call.context = watch
        call.onCanSendMore = { [weak call] in
            guard let call else { return }
            RoutesGRPCService.pump(call)
        }
        Self.pump(call)
    }

    /// Sends queued ops until the stream's buffer is full (then `onCanSendMore` resumes). An op is
    /// taken from the watch only when the stream has room, so a slow client's backlog stays in the
    /// watch's bounded queue and overflows there (the stream then ends with UNAVAILABLE).
    private static func pump(_ call: GRPCServerCall) {
        guard let watch = call.context as? RuleWatch else { return }
        while call.readyForMore(), let op = watch.next() {
            if !call.send(op.serializedBytes()) { return }
        }
    }
}

import DevmeshGRPC

/// The gRPC health checking protocol (grpc/grpc doc/health-checking.md) on the admin listener, so
/// that Kubernetes gRPC probes and grpc_health_probe can check the proxy. `Check` answers SERVING
/// when the proxy is ready (see `ProxyServer.readiness`) and NOT_SERVING otherwise (draining, or
/// not synced with the agent); the service names it knows are "" (the server) and "devmesh".
///
/// The two messages are tiny, so they are coded by hand:
/// `HealthCheckRequest { string service = 1; }`, `HealthCheckResponse { ServingStatus status = 1; }`
/// with SERVING = 1, NOT_SERVING = 2.
final class HealthService: GRPCService {
    static let checkPath = "/grpc.health.v1.Health/Check"
    private unowned let server: ProxyServer

    init(server: ProxyServer) {
        self.server = server
    }

    func handle(path: String, request: [UInt8], call: GRPCServerCall) {
        guard path == Self.checkPath else {
            call.finish(status: 12, message: "only \(Self.checkPath) is served here")
            return
        }
        guard let service = Self.serviceName(request) else {
            call.finish(status: 13, message: "malformed HealthCheckRequest")
            return
        }
        guard service.isEmpty || service == "devmesh" else {
            call.finish(status: 5, message: "unknown service \"\(service)\"")
            return
        }
        let status: UInt8 = server.readiness.ready ? 1 : 2
        call.send([0x08, status])
        call.finish(status: 0)
    }

    func cancelled(_ call: GRPCServerCall) {}

    /// Field 1 (`service`) of a HealthCheckRequest; "" when absent. Nil when malformed.
    static func serviceName(_ bytes: [UInt8]) -> String? {
        var index = 0
        var name = ""
        while index < bytes.count {
            let tag = bytes[index]
            index += 1
            guard tag == 0x0A, index < bytes.count else { return nil }
            // A length below 128 is one varint byte; a longer service name is not a service we know.
            let length = Int(bytes[index])
            index += 1
            guard length < 128, index + length <= bytes.count else { return nil }
            name = String(decoding: bytes[index..<index + length], as: UTF8.self)
            index += length
        }
        return name
    }
}

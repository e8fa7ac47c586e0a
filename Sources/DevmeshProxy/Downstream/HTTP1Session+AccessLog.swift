import DevmeshHTTP1
import DevmeshIO
import DevmeshRouting
import Glibc

/// The fields of one access-log line, captured when the head is parsed (the head bytes are
/// rewritten and recycled long before the exchange ends). Only used when the access log is on;
/// the arrays are reused across requests on the connection.
struct AccessLogRecord {
    var method: [UInt8] = []
    var path: [UInt8] = []
    var routingKey: [UInt8] = []
    var hasRoutingKey = false
    var startMicroseconds: Int64 = 0
    static let maxPathBytes = 1024
    /// `-`: the destination or upstream of a request that never got one.
    static let unknown: [UInt8] = [0x2D]

    mutating func capture(head: RequestHead, headers: HeaderStorage, candidates: RoutingKeyCandidates,
                          winningCandidate: Int) {
        method.removeAll(keepingCapacity: true)
        method.append(contentsOf: head.methodBytes)
        path.removeAll(keepingCapacity: true)
        path.append(contentsOf: head.target.prefix(AccessLogRecord.maxPathBytes))
        routingKey.removeAll(keepingCapacity: true)
        let index = winningCandidate >= 0 ? winningCandidate : (candidates.count > 0 ? 0 : -1)
        hasRoutingKey = index >= 0
        if index >= 0 { routingKey.append(contentsOf: candidates.key(at: index)) }
        startMicroseconds = AccessLogRecord.monotonicMicroseconds()
    }

    static func monotonicMicroseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }
}

extension HTTP1Session {
    /// Writes the access-log line of the current exchange (no-op when the log is off).
    func finishAccessLog(status: Int, failure: UpstreamFailure?) {
        guard let log = worker.accessLog, !logRecord.method.isEmpty else { return }
        let snapshot = worker.snapshot
        let current = exchange.snapshotVersion == snapshot.version
        let destination = current && exchange.destination >= 0
            ? snapshot.destinationLogLabels[Int(exchange.destination)] : AccessLogRecord.unknown
        let upstreamName = current && exchange.endpoint >= 0
            ? snapshot.endpointLogLabels[Int(exchange.endpoint)] : AccessLogRecord.unknown
        let duration = AccessLogRecord.monotonicMicroseconds() - logRecord.startMicroseconds
        logRecord.method.withUnsafeBytes { method in
            logRecord.path.withUnsafeBytes { path in
                logRecord.routingKey.withUnsafeBytes { key in
                    destination.withUnsafeBytes { destination in
                        upstreamName.withUnsafeBytes { upstreamName in
                            log.append(AccessLogWriter.Entry(method: method, path: path, status: status,
                                                             routingKey: logRecord.hasRoutingKey ? key : nil,
                                                             destination: destination, upstream: upstreamName,
                                                             failure: failure, durationMicroseconds: duration))
                        }
                    }
                }
            }
        }
        logRecord.method.removeAll(keepingCapacity: true)
    }
}

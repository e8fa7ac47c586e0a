import DevmeshHTTP1
import DevmeshIO
import DevmeshHTTP2

/// Why an upstream exchange failed. One list, used for metrics labels, access-log fields and the
/// mapping to a downstream status (`ProxyFailure.status`).
public enum UpstreamFailure: Int, CaseIterable, Sendable {
    case connectRefused
    case connectTimeout
    case connectError
    case noEndpoint
    case poolExhausted
    case reset
    case closedEarly
    case malformedResponse
    case responseTimeout
    case streamIdleTimeout
    /// This process ran out of descriptors (EMFILE/ENFILE) opening the upstream socket.
    case resourcesExhausted

    /// The failure a socket or connect error stands for.
    static func connecting(_ error: Errno) -> UpstreamFailure {
        if error == Errno.connectionRefused { return .connectRefused }
        if error == Errno.tooManyOpenFiles || error == Errno.systemTooManyOpenFiles { return .resourcesExhausted }
        return .connectError
    }

    /// The Prometheus label / access-log slug.
    public var slug: StaticString {
        switch self {
        case .connectRefused: "connect_refused"
        case .connectTimeout: "connect_timeout"
        case .connectError: "connect_error"
        case .noEndpoint: "no_endpoint"
        case .poolExhausted: "pool_exhausted"
        case .reset: "reset"
        case .closedEarly: "closed_early"
        case .malformedResponse: "malformed_response"
        case .responseTimeout: "response_timeout"
        case .streamIdleTimeout: "stream_idle_timeout"
        case .resourcesExhausted: "resources_exhausted"
        }
    }

    /// The status sent downstream when nothing of the response has been sent yet.
    /// refused / reset / malformed → 502 (the upstream misbehaved); no endpoint or our own
    /// connection cap → 503 (unavailable, try later); timeouts → 504.
    public var status: Int {
        switch self {
        case .connectRefused, .connectError, .reset, .closedEarly, .malformedResponse: 502
        case .noEndpoint, .poolExhausted, .resourcesExhausted: 503
        case .connectTimeout, .responseTimeout, .streamIdleTimeout: 504
        }
    }

    /// Whether the failure happened before the request could have reached the application, so
    /// that another endpoint (or the fallback destination) may be tried.
    public var isConnectPhase: Bool {
        switch self {
        case .connectRefused, .connectTimeout, .connectError, .noEndpoint, .poolExhausted, .resourcesExhausted: true
        default: false
        }
    }

    public var explanation: String {
        switch self {
        case .connectRefused: "connection refused"
        case .connectTimeout: "connect timed out"
        case .connectError: "connect failed"
        case .noEndpoint: "no endpoint available"
        case .poolExhausted: "too many upstream connections"
        case .reset: "connection reset by upstream"
        case .closedEarly: "upstream closed the connection before responding"
        case .malformedResponse: "malformed response from upstream"
        case .responseTimeout: "upstream did not respond in time"
        case .streamIdleTimeout: "upstream stalled"
        case .resourcesExhausted: "devmesh is out of file descriptors"
        }
    }
}

/// Per-worker counters: plain integers written only by the worker thread (no atomics on the
/// request path). The worker copies them into its `WorkerControl` every publish interval; the
/// admin endpoint sums the copies.
///
/// Fixed-size inline storage (`InlineArray`), not `Array`: an array shared with the published
/// copy would be copied (a heap allocation) on the first increment after every publish.
public struct WorkerStats: Sendable {
    public static let routeKinds = 2          // 0 baseline, 1 sandbox
    public static let statusClasses = 5       // 1xx…5xx

    /// requests[routeKind * 5 + statusClass - 1]
    public var requests = InlineArray<10, UInt64>(repeating: 0)
    /// Requests answered by devmesh itself before routing (malformed, 404 no service, overload).
    public var localResponses = InlineArray<5, UInt64>(repeating: 0)
    public var upstreamFailures = InlineArray<16, UInt64>(repeating: 0)
    /// Malformed requests by `HTTP1Error` (indexed by its position in `allCases`).
    public var rejectedRequests = InlineArray<64, UInt64>(repeating: 0)
    public var downstreamOpen = 0
    public var downstreamAccepted: UInt64 = 0
    public var downstreamRejectedOverLimit: UInt64 = 0
    /// Requests shed above `limits.maxRequestsPerWorker` (503 or REFUSED_STREAM).
    public var requestsShed: UInt64 = 0
    public var requestsInFlight = 0
    public var acceptErrors: UInt64 = 0
    public var upstreamOpen = 0
    public var upstreamConnects: UInt64 = 0
    /// Pauses the worker's loop took after a busy turn to batch what arrives (`batch_window_us`).
    public var batchPauses: UInt64 = 0
    public var upstreamReused: UInt64 = 0
    /// Endpoints ejected after connect failures in a row (UpstreamPool's passive health).
    public var upstreamEjections: UInt64 = 0
    public var upstreamRetries: UInt64 = 0
    public var fallbacks: UInt64 = 0
    public var headTimeouts: UInt64 = 0
    public var http2Connections: UInt64 = 0
    /// HTTP/2 connections failed by abuse or protocol errors, by reason (see `HTTP2Failure`).
    public var http2Failures = InlineArray<8, UInt64>(repeating: 0)
    public var upstreamGoAways: UInt64 = 0
    /// What closed HTTP/2 client connections saw (summed when each connection closes).
    public var http2StreamsOpened: UInt64 = 0
    public var http2StreamsResetByPeer: UInt64 = 0
    public var http2StreamsResetLocally: UInt64 = 0
    public var http2HeaderListsTooLarge: UInt64 = 0
    public var http2InvalidHeaderFields: UInt64 = 0
    public var http2InvalidFrames: UInt64 = 0
    public var tableVersion: UInt64 = 0
    public var buffersInUse = 0
    public var bufferBytesReserved = 0

    public init() {
        precondition(UpstreamFailure.allCases.count <= upstreamFailures.count, "grow upstreamFailures")
        precondition(HTTP1Error.allCases.count <= rejectedRequests.count, "grow rejectedRequests")
    }

    @inline(__always)
    public mutating func countRequest(sandbox: Bool, status: Int) {
        let statusClass = min(max(status / 100, 1), 5)
        requests[(sandbox ? 1 : 0) * WorkerStats.statusClasses + statusClass - 1] &+= 1
    }

    @inline(__always)
    public mutating func countLocalResponse(status: Int) {
        localResponses[min(max(status / 100, 1), 5) - 1] &+= 1
    }

    public mutating func countRejected(_ error: HTTP1Error) {
        rejectedRequests[WorkerStats.rejectionIndex[error] ?? 0] &+= 1
    }

    /// Position of each HTTP/1 error in `HTTP1Error.allCases` (built once; error path only).
    static let rejectionIndex: [HTTP1Error: Int] = Dictionary(
        uniqueKeysWithValues: HTTP1Error.allCases.enumerated().map { ($1, $0) })

    /// The reasons an HTTP/2 connection was failed, in `http2Failures` order (metric labels).
    public static let http2FailureSlugs: [StaticString] = [
        "bad_preface", "protocol_violation", "empty_frame_flood", "continuation_flood", "control_frame_flood",
        "outbound_queue_flood", "rapid_reset", "stream_open_burst",
    ]

    public mutating func countHTTP2Failure(_ error: HTTP2ConnectionError) {
        let index: Int
        switch error.reason {
        case .badPreface: index = 0
        case .protocolViolation, .internalFailure: index = 1
        case .emptyFrameFlood: index = 2
        case .continuationFlood: index = 3
        case .controlFrameFlood: index = 4
        case .outboundQueueFlood: index = 5
        case .rapidReset: index = 6
        case .streamOpenBurst: index = 7
        }
        http2Failures[index] &+= 1
    }

    /// Adds what one HTTP/2 client connection saw.
    public mutating func add(_ counters: HTTP2Counters) {
        http2StreamsOpened &+= UInt64(counters.streamsOpened)
        http2StreamsResetByPeer &+= UInt64(counters.streamsResetByPeer)
        http2StreamsResetLocally &+= UInt64(counters.streamsResetLocally)
        http2HeaderListsTooLarge &+= UInt64(counters.headerListsTooLarge)
        http2InvalidHeaderFields &+= UInt64(counters.invalidHeaderFields)
        http2InvalidFrames &+= UInt64(counters.invalidFrames)
    }

    /// Adds another worker's counters (gauges add too: open connections are per worker).
    public mutating func add(_ other: WorkerStats) {
        for index in requests.indices { requests[index] &+= other.requests[index] }
        for index in localResponses.indices { localResponses[index] &+= other.localResponses[index] }
        for index in upstreamFailures.indices { upstreamFailures[index] &+= other.upstreamFailures[index] }
        for index in rejectedRequests.indices { rejectedRequests[index] &+= other.rejectedRequests[index] }
        downstreamOpen += other.downstreamOpen
        downstreamAccepted &+= other.downstreamAccepted
        downstreamRejectedOverLimit &+= other.downstreamRejectedOverLimit
        requestsShed &+= other.requestsShed
        requestsInFlight += other.requestsInFlight
        acceptErrors &+= other.acceptErrors
        upstreamOpen += other.upstreamOpen
        upstreamConnects &+= other.upstreamConnects
        batchPauses &+= other.batchPauses
        upstreamReused &+= other.upstreamReused
        upstreamEjections &+= other.upstreamEjections
        upstreamRetries &+= other.upstreamRetries
        fallbacks &+= other.fallbacks
        headTimeouts &+= other.headTimeouts
        http2Connections &+= other.http2Connections
        for index in http2Failures.indices { http2Failures[index] &+= other.http2Failures[index] }
        upstreamGoAways &+= other.upstreamGoAways
        http2StreamsOpened &+= other.http2StreamsOpened
        http2StreamsResetByPeer &+= other.http2StreamsResetByPeer
        http2StreamsResetLocally &+= other.http2StreamsResetLocally
        http2HeaderListsTooLarge &+= other.http2HeaderListsTooLarge
        http2InvalidHeaderFields &+= other.http2InvalidHeaderFields
        http2InvalidFrames &+= other.http2InvalidFrames
        tableVersion = max(tableVersion, other.tableVersion)
        buffersInUse += other.buffersInUse
        bufferBytesReserved += other.bufferBytesReserved
    }
}

import DevmeshHTTP1

/// The state of one request/response exchange on a downstream HTTP/1.1 connection. Plain values,
/// reset for every request; the bytes themselves stay in the session's and the upstream
/// connection's buffers, addressed by the offsets below.
///
/// Request direction (session buffer):
/// `[requestStart ..< forwardStart)` already sent upstream, `[forwardStart ..< forwardEnd)` framed
/// and waiting to be sent, `[forwardEnd ..< buffer.end)` pipelined bytes of the next request
/// (only once `requestComplete`).
///
/// Response direction (upstream buffer): `buffer.start` is the next byte to parse as a head;
/// `[responseForwardStart ..< responseForwardEnd)` is framed and waiting to be sent downstream.
struct Exchange {
    // What was asked.
    var method: HTTPMethod = .get
    var isIdempotent = true
    var clientVersionMinor: UInt8 = 1
    var clientKeepAlive = true
    var upgradeRequested = false

    // Where it goes.
    var snapshotVersion: UInt64 = 0
    var destination: Int32 = -1
    var isSandbox = false
    var usedFallback = false
    var endpoint: Int32 = -1
    var endpointCursor: UInt32 = 0
    var endpointsTried: Int32 = 0
    var lastFailure: UpstreamFailure?
    /// A retry after the keep-alive race must not pick an idle pooled connection again.
    var needsFreshConnection = false
    var retried = false

    // Request direction.
    var requestStart = 0
    var forwardStart = 0
    var forwardEnd = 0
    var requestFramer = BodyFramer(request: .none)
    var requestComplete = false
    /// The whole request is still in the buffer from `requestStart`, so it can be sent again.
    var requestReplayable = true
    var requestSentAt: Int64 = 0

    // Response direction.
    var finalHeadReceived = false
    var responseScanHint = 0
    var responseFramer = BodyFramer(request: .none)
    var responseFramingDone = false
    var responseForwardStart = 0
    var responseForwardEnd = 0
    var responseBytesSent = 0
    var responseBytesReceived = 0
    /// The upstream may serve another request on this connection once this one completes.
    var upstreamReusable = true
    /// The downstream connection closes after this response (told in the response head).
    var downstreamMustClose = false
    var status = 0
    var switchingProtocols = false

    // Timing (monotonic milliseconds).
    var startedAt: Int64 = 0
    var lastProgressAt: Int64 = 0

    var responseStarted: Bool { responseBytesSent > 0 }
}

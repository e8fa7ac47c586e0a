import DevmeshBytes
import DevmeshHTTP2
import DevmeshIO
import DevmeshRoutesAPI

/// Hears what a `GRPCClientCall` receives. Called on the call's loop thread.
public protocol GRPCClientCallDelegate: AnyObject {
    /// One response message.
    func grpcCall(_ call: GRPCClientCall, received message: [UInt8])
    /// The call ended: the server's status, or 14 UNAVAILABLE / 4 DEADLINE_EXCEEDED / 1 CANCELLED
    /// for what happened on this side (connect failed, connection lost, deadline, cancel).
    func grpcCall(_ call: GRPCClientCall, finishedWith status: Int, message: String)
}

/// A liveness check for a long-lived call: a PING every `intervalMilliseconds`, and the call
/// fails (14 UNAVAILABLE) when one goes unanswered for `timeoutMilliseconds`. Without it a peer
/// that stops reading but keeps its socket (a stopped process, a dead network path) would look
/// like a quiet one for as long as TCP takes to give up.
public struct GRPCKeepalive: Sendable, Equatable {
    public var intervalMilliseconds: Int64
    public var timeoutMilliseconds: Int64

    public init(intervalMilliseconds: Int64, timeoutMilliseconds: Int64) {
        self.intervalMilliseconds = intervalMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// One gRPC call on its own h2c connection: made for long-lived server-streaming calls (the proxy's
/// route watch), where one connection per call costs nothing and keeps failure handling simple.
public final class GRPCClientCall: EventHandler, HTTP2SessionDelegate {
    private let loop: EventLoop
    private let transport: HTTP2Transport
    private let session = HTTP2Session(role: .client)
    private var slot: Slot = .invalid
    private weak var delegate: (any GRPCClientCallDelegate)?
    private var stream: HTTP2StreamID?
    private var connected = false
    private var finished = false
    private var flushScheduled = false
    private var deframer = GRPCMessageDeframer()
    private var headers = HeaderBlock(byteCapacity: 256, fieldCapacity: 8)
    private let request: [UInt8]
    private var status: Int?
    /// Reports the end outside the callback stack that found it.
    private var deferredFinish: TimerTask?
    private var statusMessage = ""
    private let keepalive: GRPCKeepalive?
    /// When the unanswered keepalive PING was sent.
    private var pingSentAt: Int64?

    /// Connects to `address` and calls `path` with `request` (one message; the request side then
    /// ends). `connectTimeoutMilliseconds` bounds the connect; the call itself has no deadline,
    /// but with `keepalive` it ends when the server stops answering PINGs.
    public init(loop: EventLoop, buffers: BufferPool, address: SocketAddress, authority: String, path: String,
                request: [UInt8], delegate: any GRPCClientCallDelegate, connectTimeoutMilliseconds: Int64 = 2000,
                keepalive: GRPCKeepalive? = nil) {
        self.loop = loop
        self.keepalive = keepalive
        self.delegate = delegate
        self.request = GRPCMessageFraming.frame(request)
        var fd: Int32 = -1
        var immediate = false
        do {
            (fd, immediate) = try Sockets.connect(to: address)
        } catch {
            transport = HTTP2Transport(fd: -1, buffers: buffers)
            session.delegate = self
            finishSoon(status: 14, message: "connect to \(address) failed: \(error)")
            return
        }
        transport = HTTP2Transport(fd: fd, buffers: buffers)
        session.delegate = self
        Array(path.utf8).withUnsafeBytes { pathBytes in
            Array(authority.utf8).withUnsafeBytes { authorityBytes in
                headers.append(name: ":method", value: "POST")
                headers.append(name: ":scheme", value: "http")
                headers.append(name: ":path", value: pathBytes)
                headers.append(name: ":authority", value: authorityBytes)
                headers.append(name: "content-type", value: "application/grpc")
                headers.append(name: "te", value: "trailers")
            }
        }
        guard let registered = try? loop.register(fd, handler: self) else {
            Syscall.close(fd)
            finishSoon(status: 14, message: "cannot register a socket")
            return
        }
        slot = registered
        if immediate {
            becomeConnected()
        } else {
            loop.setTimer(slot, deadline: loop.now + connectTimeoutMilliseconds)
        }
    }

    /// Ends the call from this side (RST_STREAM CANCEL and close); the delegate hears nothing more.
    public func cancel() {
        delegate = nil
        if let stream { session.resetStream(stream, code: .cancel) }
        _ = transport.flush(session)
        close()
    }

    // MARK: EventHandler

    public func handleEvents(_ events: UInt32) {
        guard !finished else { return }
        if events == EventLoop.Events.resume {
            flushScheduled = false
        } else {
            transport.note(events)
        }
        if !connected {
            guard events & (EventLoop.Events.writable | EventLoop.Events.error | EventLoop.Events.hangUp) != 0 else { return }
            loop.cancelTimer(slot)
            if let error = Syscall.socketError(transport.fd) {
                return fail(status: 14, message: "connect failed: \(error)")
            }
            becomeConnected()
            return
        }
        drive()
    }

    public func handleTimer() {
        guard !finished else { return }
        guard connected else { return fail(status: 14, message: "connect timed out") }
        guard let keepalive else { return }
        let now = loop.now
        if let sentAt = pingSentAt, (session.lastPingAckAt ?? Int64.min) < sentAt {
            if now - sentAt >= keepalive.timeoutMilliseconds {
                return fail(status: 14, message: "the server did not answer a keepalive PING "
                                + "within \(keepalive.timeoutMilliseconds) ms")
            }
            // Still waiting for the ACK: one PING in flight is enough.
            loop.setTimer(slot, deadline: min(sentAt + keepalive.timeoutMilliseconds,
                                               now + keepalive.intervalMilliseconds))
            return
        }
        session.ping()
        pingSentAt = now
        scheduleFlush()
        loop.setTimer(slot, deadline: now + min(keepalive.intervalMilliseconds, keepalive.timeoutMilliseconds))
    }

    private func becomeConnected() {
        connected = true
        transport.canWrite = true
        stream = session.submitRequest(headers: headers.fields, endStream: false)
        guard let stream else { return fail(status: 14, message: "cannot open a stream") }
        _ = request.withUnsafeBytes { session.submitData(stream, $0, endStream: true) }
        if let keepalive { loop.setTimer(slot, deadline: loop.now + keepalive.intervalMilliseconds) }
        drive()
    }

    private func drive() {
        guard !finished else { return }
        switch transport.read(into: session, now: loop.now) {
        case .idle: break
        case .closed: return fail(status: 14, message: "the server closed the connection")
        case .failed: return fail(status: 14, message: "the connection failed")
        case .protocolError:
            _ = transport.flush(session) // our GOAWAY, if the socket takes it
            return fail(status: 13, message: "the server broke the HTTP/2 protocol")
        }
        guard !finished else { return }
        if transport.flush(session) != .idle { return fail(status: 14, message: "the connection failed") }
    }

    private func scheduleFlush() {
        guard !flushScheduled, slot != .invalid else { return }
        flushScheduled = true
        loop.resumeLater(slot)
    }

    private func fail(status: Int, message: String) {
        if self.status == nil {
            self.status = status
            statusMessage = message
        }
        finish()
    }

    /// Reports the end once (after the current callback stack unwinds, when called from inside one).
    private func finishSoon(status: Int, message: String) {
        self.status = status
        statusMessage = message
        deferredFinish = TimerTask(loop: loop, afterMilliseconds: 0) { [weak self] in self?.finish() }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        let delegate = self.delegate
        close()
        delegate?.grpcCall(self, finishedWith: status ?? 14, message: statusMessage)
    }

    private func close() {
        finished = true
        transport.release()
        if slot != .invalid {
            loop.deregister(slot)
            slot = .invalid
        }
        if transport.fd >= 0 { Syscall.close(transport.fd) }
        session.delegate = nil
    }

    // MARK: HTTP2SessionDelegate

    public func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                             kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool) {
        for field in fields {
            if ASCII.equalsCaseInsensitive(field.name, lowercased: "grpc-status") {
                status = Int(field.value.debugString) ?? 2
            } else if ASCII.equalsCaseInsensitive(field.name, lowercased: "grpc-message") {
                statusMessage = GRPCStatusMessage.percentDecode(field.value)
            } else if kind == .response, ASCII.equalsCaseInsensitive(field.name, lowercased: ":status"),
                      field.value.debugString != "200" {
                status = 14
                statusMessage = "HTTP status \(field.value.debugString)"
            }
        }
    }

    public func http2Session(_ session: HTTP2Session, didReceiveData bytes: UnsafeRawBufferPointer,
                             stream: HTTP2StreamID, endStream: Bool) {
        guard !bytes.isEmpty else { return }
        deframer.append(bytes)
        session.consume(stream, byteCount: bytes.count)
        while true {
            let message: [UInt8]?
            do {
                message = try deframer.nextMessage()
            } catch {
                status = error.grpcStatus
                statusMessage = "\(error)"
                session.resetStream(stream, code: .cancel)
                return
            }
            guard let message else { return }
            delegate?.grpcCall(self, received: message)
            if finished { return }
        }
    }

    public func http2Session(_ session: HTTP2Session, streamDidClose stream: HTTP2StreamID,
                             reason: HTTP2StreamCloseReason) {
        if status == nil {
            status = 14
            statusMessage = "the stream ended without a status (\(reason))"
        }
        // Finish after the session returns (never close a session from inside its callback).
        scheduleFlushThenFinish()
    }

    private func scheduleFlushThenFinish() {
        deferredFinish = TimerTask(loop: loop, afterMilliseconds: 0) { [weak self] in self?.finish() }
    }
}

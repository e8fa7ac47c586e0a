import DevmeshBytes
import DevmeshHTTP2
import DevmeshIO
import DevmeshRoutesAPI

/// Answers gRPC calls (grpc/grpc PROTOCOL-HTTP2.md) on our own HTTP/2 stack. Serves unary and
/// server-streaming methods: the single request message is collected, then the service answers
/// through a `GRPCServerCall` with messages and a final status.
public protocol GRPCService: AnyObject {
    /// A call to `path` (`/package.Service/Method`) with its request message. Answer with
    /// `call.send` and `call.finish`, now or later (a stream stays open until `finish`).
    func handle(path: String, request: [UInt8], call: GRPCServerCall)
    /// The client cancelled the call or the connection went away: stop sending.
    func cancelled(_ call: GRPCServerCall)
}

/// One call being answered.
public final class GRPCServerCall {
    public let stream: HTTP2StreamID
    unowned(unsafe) let connection: GRPCServerConnection
    /// State the service keeps with the call (a watch subscription, say).
    public var context: AnyObject?
    /// Called when a `send` that returned false can be retried.
    public var onCanSendMore: (() -> Void)?
    public private(set) var isOpen = true
    private var headersSent = false
    /// Framed messages that did not fit the stream's buffer yet (from `pendingOffset` on).
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    /// A status given by `finish` while messages were still pending: the trailers go out after
    /// the last pending byte (trailers end the stream, so nothing may follow them).
    private var deferredStatus: (status: Int, message: String)?

    init(stream: HTTP2StreamID, connection: GRPCServerConnection) {
        self.stream = stream
        self.connection = connection
    }

    /// Sends one response message; it is always kept, in order. Returns false when the stream's
    /// buffer is full: what did not fit goes out as room appears, and the caller should send
    /// nothing more until `onCanSendMore` (what it sends meanwhile still queues here, unbounded).
    @discardableResult
    public func send(_ message: [UInt8]) -> Bool {
        guard isOpen else { return false }
        sendHeadersIfNeeded()
        if pendingOffset >= pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingOffset = 0
        }
        pending += GRPCMessageFraming.frame(message)
        return pendingDrained()
    }

    /// Whether the stream can take another message now: open, and every earlier message handed to
    /// the stream (pushing what it can first). A producer with its own bounded queue (the route
    /// watch) checks this before it takes the next message from that queue, so its backlog stays
    /// in the queue, where the bound applies, instead of piling up here.
    public func readyForMore() -> Bool {
        isOpen && pendingDrained()
    }

    /// Ends the call with a status (and message), after every message sent so far. Without any
    /// message sent, this is a trailers-only response.
    public func finish(status: Int, message: String = "") {
        guard isOpen else { return }
        isOpen = false
        if !headersSent {
            headersSent = true
            let block = HeaderBlock(byteCapacity: 128, fieldCapacity: 4)
            block.append(name: ":status", value: "200")
            block.append(name: "content-type", value: "application/grpc")
            appendStatus(block, status: status, message: message)
            connection.session.submitResponse(stream, headers: block.fields, endStream: true)
        } else if pendingDrained() {
            submitTrailers(status: status, message: message)
        } else {
            deferredStatus = (status, message)
        }
        connection.scheduleFlush()
    }

    private func submitTrailers(status: Int, message: String) {
        let block = HeaderBlock(byteCapacity: 128, fieldCapacity: 4)
        appendStatus(block, status: status, message: message)
        connection.session.submitTrailers(stream, headers: block.fields)
    }

    /// The stream has room again: pushes pending bytes, then a status `finish` had to hold back.
    /// True when the service may send more.
    func streamHasRoom() -> Bool {
        guard pendingDrained() else { return false }
        if let deferred = deferredStatus {
            deferredStatus = nil
            submitTrailers(status: deferred.status, message: deferred.message)
            connection.scheduleFlush()
            return false
        }
        return isOpen
    }

    private func appendStatus(_ block: HeaderBlock, status: Int, message: String) {
        Array(String(status).utf8).withUnsafeBytes { block.append(name: "grpc-status", value: $0) }
        if !message.isEmpty {
            Array(GRPCStatusMessage.percentEncode(message).utf8).withUnsafeBytes {
                block.append(name: "grpc-message", value: $0)
            }
        }
    }

    private func sendHeadersIfNeeded() {
        guard !headersSent else { return }
        headersSent = true
        let block = HeaderBlock(byteCapacity: 64, fieldCapacity: 2)
        block.append(name: ":status", value: "200")
        block.append(name: "content-type", value: "application/grpc")
        connection.session.submitResponse(stream, headers: block.fields, endStream: false)
    }

    /// Pushes the pending framed message into the stream; true when nothing is left.
    @discardableResult
    func pendingDrained() -> Bool {
        guard pendingOffset < pending.count else { return true }
        let result = pending.withUnsafeBytes { raw in
            connection.session.submitData(stream, UnsafeRawBufferPointer(rebasing: raw[pendingOffset...]), endStream: false)
        }
        connection.scheduleFlush()
        switch result {
        case .accepted:
            pendingOffset = pending.count
            return true
        case .partial(let count):
            pendingOffset += count
            return false
        case .streamClosed:
            isOpen = false
            deferredStatus = nil
            return false
        }
    }

    /// Bytes or a status still waiting for room in the stream.
    var hasPendingOutput: Bool { pendingOffset < pending.count || deferredStatus != nil }

    func closedByPeer() {
        isOpen = false
        deferredStatus = nil
    }
}

/// One h2c connection answering gRPC calls.
public final class GRPCServerConnection: EventHandler, HTTP2SessionDelegate {
    let session: HTTP2Session
    private let transport: HTTP2Transport
    private let loop: EventLoop
    private let service: any GRPCService
    private var slot: Slot = .invalid
    private var calls: [Int32: GRPCServerCall] = [:]
    private var requests: [Int32: (path: String, isGRPC: Bool, deframer: GRPCMessageDeframer)] = [:]
    private var flushScheduled = false
    private var closed = false
    private let onClose: (GRPCServerConnection) -> Void
    private var lastActivity: Int64
    public static let idleMilliseconds: Int64 = 10 * 60 * 1000

    /// Serves `fd` (already accepted). `initialBytes`: bytes read before the hand-over (the
    /// connection preface, when an HTTP/1.1 listener sniffed it).
    public init(fd: Int32, loop: EventLoop, buffers: BufferPool, service: any GRPCService,
                initialBytes: UnsafeRawBufferPointer? = nil, existingSlot: Slot? = nil,
                onClose: @escaping (GRPCServerConnection) -> Void = { _ in }) {
        self.loop = loop
        self.service = service
        self.onClose = onClose
        transport = HTTP2Transport(fd: fd, buffers: buffers)
        session = HTTP2Session(role: .server)
        lastActivity = loop.now
        session.delegate = self
        if let existingSlot {
            slot = existingSlot
            loop.replaceHandler(existingSlot, with: self)
        } else if let registered = try? loop.register(fd, handler: self) {
            slot = registered
        } else {
            Syscall.close(fd)
            closed = true
            return
        }
        transport.canRead = true
        transport.canWrite = true
        if let initialBytes { _ = transport.feed(initialBytes, to: session, now: loop.now) }
        drive()
    }

    public func handleEvents(_ events: UInt32) {
        if events == EventLoop.Events.resume {
            flushScheduled = false
        } else {
            transport.note(events)
        }
        drive()
    }

    public func handleTimer() {
        if calls.isEmpty && loop.now - lastActivity >= Self.idleMilliseconds {
            close()
        } else {
            loop.setTimer(slot, deadline: loop.now + Self.idleMilliseconds)
        }
    }

    func scheduleFlush() {
        guard !flushScheduled, !closed else { return }
        flushScheduled = true
        loop.resumeLater(slot)
    }

    private func drive() {
        guard !closed else { return }
        lastActivity = loop.now
        switch transport.read(into: session, now: loop.now) {
        case .closed, .failed: return close()
        case .idle, .protocolError: break // a GOAWAY goes out below; the session then finishes
        }
        if transport.flush(session) != .idle { return close() }
        if transport.isDrained && session.isFinished { return close() }
        loop.setTimer(slot, deadline: loop.now + Self.idleMilliseconds)
    }

    /// Starts the two-step graceful GOAWAY (the process is stopping).
    public func goAway() {
        session.goAway(.noError, graceful: true)
        scheduleFlush()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        for (_, call) in calls {
            call.closedByPeer()
            service.cancelled(call)
        }
        calls.removeAll()
        transport.release()
        loop.deregister(slot)
        Syscall.close(transport.fd)
        session.delegate = nil
        onClose(self)
    }

    // MARK: HTTP2SessionDelegate

    public func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                             kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool) {
        guard kind == .request else { return }
        var path = ""
        var isGRPC = false
        for field in fields {
            if ASCII.equalsCaseInsensitive(field.name, lowercased: ":path") { path = field.value.debugString }
            if ASCII.equalsCaseInsensitive(field.name, lowercased: "content-type") {
                isGRPC = ASCII.hasPrefixCaseInsensitive(field.value, lowercased: "application/grpc")
            }
        }
        requests[stream.rawValue] = (path, isGRPC, GRPCMessageDeframer())
        if endStream { dispatch(stream) }
    }

    public func http2Session(_ session: HTTP2Session, didReceiveData bytes: UnsafeRawBufferPointer,
                             stream: HTTP2StreamID, endStream: Bool) {
        if !bytes.isEmpty {
            requests[stream.rawValue]?.deframer.append(bytes)
            session.consume(stream, byteCount: bytes.count)
        }
        if endStream { dispatch(stream) }
    }

    /// The request is complete: hand its message to the service.
    private func dispatch(_ stream: HTTP2StreamID) {
        guard var request = requests.removeValue(forKey: stream.rawValue) else { return }
        let call = GRPCServerCall(stream: stream, connection: self)
        guard request.isGRPC else {
            let block = HeaderBlock(byteCapacity: 64, fieldCapacity: 2)
            block.append(name: ":status", value: "415")
            session.submitResponse(stream, headers: block.fields, endStream: true)
            return
        }
        let message: [UInt8]
        do {
            message = try request.deframer.nextMessage() ?? []
        } catch {
            call.finish(status: error.grpcStatus, message: "\(error)")
            return
        }
        calls[stream.rawValue] = call
        service.handle(path: request.path, request: message, call: call)
        // A finished call stays until its last bytes and status are out (streamCanSendMore).
        if !call.isOpen && !call.hasPendingOutput { calls.removeValue(forKey: stream.rawValue) }
    }

    public func http2Session(_ session: HTTP2Session, streamDidClose stream: HTTP2StreamID,
                             reason: HTTP2StreamCloseReason) {
        requests.removeValue(forKey: stream.rawValue)
        guard let call = calls.removeValue(forKey: stream.rawValue) else { return }
        if call.isOpen {
            call.closedByPeer()
            service.cancelled(call)
        }
    }

    public func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID) {
        guard let call = calls[stream.rawValue] else { return }
        if call.streamHasRoom() { call.onCanSendMore?() }
    }
}

/// `grpc-message` is percent-encoded (PROTOCOL-HTTP2.md: space through `~`, except `%`, as is).
public enum GRPCStatusMessage {
    public static func percentEncode(_ message: String) -> String {
        var out = ""
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    public static func percentDecode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let value = UInt8(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index + 1...index + 2]),
                                        as: UTF8.self), radix: 16) {
                out.append(value)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

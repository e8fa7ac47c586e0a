import DevmeshIO

/// The socket side of an HTTP/2 connection: reads into pooled chunks and feeds the session, and
/// writes what the session produces with one `send` per chunk, keeping a partially written chunk
/// until the socket is writable again. Every HTTP/2 connection devmesh drives uses it (client
/// connections, multiplexed upstreams, gRPC servers and clients), so the edge-triggered I/O rules
/// are written once.
///
/// A read chunk goes back to the pool as soon as the session has consumed it (nghttp2 keeps
/// partial frames itself). Output is produced one chunk at a time and nothing more is produced
/// while a chunk waits for the writable edge: the session's bounded queues then push back on the
/// streams.
public final class HTTP2Transport {
    public enum Outcome: Equatable {
        /// Nothing more to do until the next readiness edge.
        case idle
        /// The session failed on what it read (`session.failure` says why). Its GOAWAY waits in
        /// the session's output: flush it, then close once the session is finished.
        case protocolError
        /// The peer closed the connection (read returned 0).
        case closed
        /// The socket failed (reset, or any other error).
        case failed
    }

    public let fd: Int32
    private let buffers: BufferPool
    private var output: IOBuffer?
    public var canRead = false
    public var canWrite = false
    /// The peer's FIN was reported (EPOLLRDHUP). It may sit behind the data of the same edge, and
    /// no further edge will come for it: a short read then does not mean drained, so reading goes
    /// on until it returns 0.
    private var peerHalfClosed = false

    public init(fd: Int32, buffers: BufferPool) {
        self.fd = fd
        self.buffers = buffers
    }

    /// Notes the readiness an event reported.
    public func note(_ events: UInt32) {
        if events & (EventLoop.Events.readable | EventLoop.Events.hangUp | EventLoop.Events.error) != 0 {
            canRead = true
        }
        if events & EventLoop.Events.peerHalfClosed != 0 {
            peerHalfClosed = true
            canRead = true
        }
        if events & EventLoop.Events.writable != 0 { canWrite = true }
    }

    /// Reads everything available and hands it to `session` (its delegate runs meanwhile).
    /// `willReceive` sees each chunk just before the session does.
    public func read(into session: HTTP2Session, now: Int64,
                     willReceive: (UnsafeRawBufferPointer) -> Void = { _ in }) -> Outcome {
        while canRead && session.wantsRead {
            var chunk = buffers.take()
            let asked = chunk.capacity - chunk.end
            let result: IOResult<Int>
            do {
                result = try Syscall.read(fd, chunk.base + chunk.end, asked)
            } catch {
                buffers.give(chunk)
                return .failed
            }
            switch result {
            case .wouldBlock:
                canRead = false
                buffers.give(chunk)
            case .done(0):
                buffers.give(chunk)
                return .closed
            case .done(let count):
                chunk.end += count
                willReceive(chunk.validBytes)
                let received = session.receive(chunk.validBytes, now: now)
                buffers.give(chunk)
                if case .failed = received { return .protocolError }
                if count < asked && !peerHalfClosed { canRead = false }
            }
        }
        return .idle
    }

    /// Feeds bytes read elsewhere (an HTTP/1.1 session that found the preface).
    public func feed(_ bytes: UnsafeRawBufferPointer, to session: HTTP2Session, now: Int64) -> Outcome {
        if case .failed = session.receive(bytes, now: now) { return .protocolError }
        return .idle
    }

    /// Writes pending output, then what the session produces, until the kernel stops taking it.
    /// Returns `.idle` or `.failed`.
    public func flush(_ session: HTTP2Session) -> Outcome {
        while canWrite {
            if output == nil {
                guard session.wantsWrite else { return .idle }
                var chunk = buffers.take()
                chunk.start = 0
                chunk.end = session.produce(into: UnsafeMutableRawBufferPointer(start: chunk.base, count: chunk.capacity))
                guard chunk.end > 0 else {
                    buffers.give(chunk)
                    return .idle
                }
                output = chunk
            }
            var pending = output!
            let result: IOResult<Int>
            do {
                result = try Syscall.send(fd, pending.base + pending.start, pending.count)
            } catch {
                return .failed
            }
            switch result {
            case .wouldBlock:
                canWrite = false
                return .idle
            case .done(let sent):
                pending.start += sent
                if pending.isEmpty {
                    buffers.give(pending)
                    output = nil
                } else {
                    output = pending
                    canWrite = false
                }
            }
        }
        return .idle
    }

    /// No output is waiting (the session may be closed once it is also finished).
    public var isDrained: Bool { output == nil }

    /// The connection is closing: gives the pending output back and stops all I/O, so a read loop
    /// still running (its session's callback closed the connection) touches the fd no more.
    /// The caller closes the fd.
    public func release() {
        canRead = false
        canWrite = false
        if let output {
            buffers.give(output)
            self.output = nil
        }
    }
}

import DevmeshIO

/// After `101 Switching Protocols` (WebSocket), the connection becomes a byte tunnel: each side's
/// bytes go to the other unchanged until both have closed. A FIN from one side is passed on as
/// a half-close (shutdown of the write side), so either party can finish first.
extension HTTP1Session {
    func beginTunnel(_ connection: UpstreamConnection) {
        phase = .tunneling
        worker.stats.countRequest(sandbox: exchange.isSandbox, status: 101)
        finishAccessLog(status: 101, failure: nil)
        // Bytes the client sent after its upgrade request are already tunnel data.
        tunnelClientDone = false
        tunnelUpstreamDone = false
    }

    func advanceTunnel() -> Bool {
        guard let connection = upstream else { return false }
        var progressed = false
        // Client → upstream.
        progressed = pumpClientToUpstream(connection) || progressed
        guard phase == .tunneling else { return true }
        // Upstream → client: the first bytes are the 101 head itself.
        progressed = pumpUpstreamToClient(connection) || progressed
        guard phase == .tunneling else { return true }
        if tunnelClientDone && tunnelUpstreamDone {
            connection.close()
            upstream = nil
            close()
            return true
        }
        return progressed
    }

    private func pumpClientToUpstream(_ connection: UpstreamConnection) -> Bool {
        if buffer == nil { buffer = worker.buffers.take() }
        var current = buffer!
        var progressed = false
        if exchange.forwardStart < current.end, connection.canWrite {
            let pending = current.end - exchange.forwardStart
            switch send(connection.fd, current.base + exchange.forwardStart, pending) {
            case .failed: abortExchange(clientGone: false); return true
            case .blocked: connection.canWrite = false
            case .sent(let count):
                if count < pending { connection.canWrite = false }
                exchange.forwardStart += count
                exchange.lastProgressAt = worker.loop.now
                progressed = true
            }
        }
        if exchange.forwardStart == current.end {
            current.start = worker.buffers.headroom
            current.end = current.start
            exchange.forwardStart = current.start
            buffer = current
            if !tunnelClientDone && canRead {
                switch receive(fd, into: &current) {
                case .failed: abortExchange(clientGone: true); return true
                case .blocked: canRead = false
                case .closed:
                    tunnelClientDone = true
                    Syscall.shutdownWrite(connection.fd)
                    progressed = true
                case .received:
                    exchange.lastProgressAt = worker.loop.now
                    progressed = true
                }
                buffer = current
            }
        }
        return progressed
    }

    private func pumpUpstreamToClient(_ connection: UpstreamConnection) -> Bool {
        if connection.buffer == nil { connection.buffer = worker.buffers.take() }
        var source = connection.buffer!
        var progressed = false
        if exchange.responseForwardStart < source.end, canWrite {
            let pending = source.end - exchange.responseForwardStart
            switch send(fd, source.base + exchange.responseForwardStart, pending) {
            case .failed: abortExchange(clientGone: true); return true
            case .blocked: canWrite = false
            case .sent(let count):
                if count < pending { canWrite = false }
                exchange.responseForwardStart += count
                exchange.lastProgressAt = worker.loop.now
                progressed = true
            }
        }
        if exchange.responseForwardStart == source.end {
            source.start = worker.buffers.headroom
            source.end = source.start
            exchange.responseForwardStart = source.start
            connection.buffer = source
            if !tunnelUpstreamDone && connection.canRead {
                switch receive(connection.fd, into: &source) {
                case .failed: abortExchange(clientGone: false); return true
                case .blocked: connection.canRead = false
                case .closed:
                    tunnelUpstreamDone = true
                    Syscall.shutdownWrite(fd)
                    progressed = true
                case .received:
                    exchange.lastProgressAt = worker.loop.now
                    progressed = true
                }
                connection.buffer = source
            }
        }
        return progressed
    }

    private enum SendOutcome { case sent(Int), blocked, failed }
    private enum ReceiveOutcome { case received, blocked, closed, failed }

    private func send(_ target: Int32, _ bytes: UnsafeMutableRawPointer, _ count: Int) -> SendOutcome {
        do {
            switch try Syscall.send(target, bytes, count) {
            case .done(let sent): return .sent(sent)
            case .wouldBlock: return .blocked
            }
        } catch {
            return .failed
        }
    }

    private func receive(_ source: Int32, into buffer: inout IOBuffer) -> ReceiveOutcome {
        do {
            switch try Syscall.read(source, buffer.base + buffer.end, buffer.freeSpace) {
            case .done(0): return .closed
            case .done(let count):
                buffer.end += count
                return .received
            case .wouldBlock: return .blocked
            }
        } catch {
            return .failed
        }
    }
}

import DevmeshHTTP1
import DevmeshIO

/// Responses devmesh writes itself: malformed requests (4xx), and upstream failures that happened
/// before any byte of a real response went downstream (5xx). Written from a pooled buffer; the
/// connection then closes or, when the request was read to its end and the client keeps alive,
/// goes back to waiting for the next request.
extension HTTP1Session {
    func respondLocally(status: Int, message: String, close: Bool, counted: Bool = false) {
        if !counted {
            worker.stats.countLocalResponse(status: status)
            if phase == .awaitingHead || phase == .exchanging || phase == .connecting {
                finishAccessLog(status: status, failure: nil)
            }
        }
        if let connection = upstream {
            connection.close(abort: true)
            upstream = nil
        }
        var output = localResponse ?? worker.buffers.take()
        output.start = 0
        let body = "devmesh: " + message + "\n"
        output.end = LocalResponses.write(status: status, body: body, close: close || drainRequested,
                                          into: UnsafeMutableRawBufferPointer(start: output.base, count: output.capacity))
        localResponse = output
        closeAfterLocalResponse = close || drainRequested
        phase = .respondingLocally
        exchange.lastProgressAt = worker.loop.now
    }

    func advanceLocalResponse() -> Bool {
        guard var output = localResponse else { return false }
        if !output.isEmpty {
            guard canWrite else { return false }
            let result: IOResult<Int>
            do {
                result = try Syscall.send(fd, output.base + output.start, output.count)
            } catch {
                close()
                return false
            }
            switch result {
            case .wouldBlock:
                canWrite = false
                return false
            case .done(let sent):
                if sent < output.count { canWrite = false }
                output.start += sent
                localResponse = output
                exchange.lastProgressAt = worker.loop.now
                if !output.isEmpty { return true }
            }
        }
        worker.buffers.give(output)
        localResponse = nil
        if closeAfterLocalResponse {
            beginLingeringClose()
            return true
        }
        phase = .awaitingHead
        releaseRequestSlot()
        idleSince = worker.loop.now
        headStartedAt = 0
        releaseBufferIfEmpty()
        return true
    }
}

extension HTTP1Session {
    /// Bytes and time spent discarding a client's leftovers after an error answer.
    static let lingerBudgetBytes = 1 << 20
    static let lingerMilliseconds: Int64 = 2000

    /// Closing right after an error answer while the client is still sending would make the
    /// kernel answer its bytes with an RST, which can destroy our answer before the client reads
    /// it. So: send FIN, then read and discard until the client closes too (bounded in time and
    /// bytes), then close.
    func beginLingeringClose() {
        Syscall.shutdownWrite(fd)
        phase = .lingering
        releaseRequestSlot()
        lingerDeadline = worker.loop.now + HTTP1Session.lingerMilliseconds
        lingerDiscarded = 0
        if let buffer {
            worker.buffers.give(buffer)
            self.buffer = nil
        }
    }

    func advanceLingering() -> Bool {
        guard canRead else { return false }
        var scratch = worker.buffers.take()
        defer { worker.buffers.give(scratch) }
        while lingerDiscarded < HTTP1Session.lingerBudgetBytes {
            scratch.end = scratch.start
            let result: IOResult<Int>
            do {
                result = try Syscall.read(fd, scratch.base + scratch.start, scratch.freeSpace)
            } catch {
                close()
                return false
            }
            switch result {
            case .wouldBlock:
                canRead = false
                return false
            case .done(0):
                close()
                return false
            case .done(let count):
                lingerDiscarded += count
            }
        }
        close(abort: true)
        return false
    }
}

/// Canned bodies and the writer for devmesh's own responses.
enum LocalResponses {
    static let overloaded: StaticString =
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 36\r\nconnection: close\r\n\r\ndevmesh: too many connections (503)\n"

    /// Writes a complete response into `target` and returns its length. Error path only: the
    /// body names the sandbox or the failure, so it is built as a String. A body that does not fit
    /// is cut (the head is always whole and the content-length always true).
    static func write(status: Int, body: String, close: Bool, into target: UnsafeMutableRawBufferPointer) -> Int {
        var head = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\ncontent-type: text/plain; charset=utf-8\r\n"
        let room = target.count - head.utf8.count - 64
        let bodyBytes = Array(body.utf8.prefix(max(0, room)))
        head += "content-length: \(bodyBytes.count)\r\n"
        if close { head += "connection: close\r\n" }
        head += "\r\n"
        var count = 0
        for byte in head.utf8 { target[count] = byte; count += 1 }
        for byte in bodyBytes { target[count] = byte; count += 1 }
        return count
    }

    static func reasonPhrase(_ status: Int) -> String {
        if let known = SyntheticStatus(rawValue: UInt16(clamping: status)) { return known.reasonPhrase.description }
        switch status {
        case 200: return "OK"
        case 405: return "Method Not Allowed"
        case 500: return "Internal Server Error"
        default: return "Error"
        }
    }
}

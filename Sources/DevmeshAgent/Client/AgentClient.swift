import DevmeshHTTP1
import DevmeshIO
import DevmeshRoutesAPI
import Glibc

/// A small blocking HTTP/1.1 client for the CLI: one request per connection, JSON in and out.
/// The CLI runs one command and exits, so blocking with a deadline is the simple, right tool.
public struct AgentClient {
    /// The agent's default HTTP address (Signadot's route server uses port 7778 for HTTP).
    public static let defaultURL = "http://127.0.0.1:7778"

    public let url: String
    let host: String
    let port: UInt16
    let timeoutMilliseconds: Int

    /// `url`: `http://HOST:PORT`, with an optional trailing `/`. IPv6 hosts go in brackets.
    public init(url: String, timeoutSeconds: Double = 10) throws(AgentClientError) {
        self.url = url
        timeoutMilliseconds = max(1, Int(timeoutSeconds * 1000))
        guard url.hasPrefix("http://") else {
            throw .badURL("\(url): use http://HOST:PORT (the agent serves plain HTTP)")
        }
        var authority = Substring(url.dropFirst("http://".count))
        while authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains("/") else { throw .badURL("\(url): give only http://HOST:PORT, without a path") }
        do {
            (host, port) = try SocketAddress.splitHostPort(String(authority))
        } catch {
            throw .badURL("\(url): \(error)")
        }
    }

    /// Sends one request and returns the status and the parsed JSON body (nil when empty).
    public func send(_ method: String, _ path: String, body: JSONValue? = nil) throws(AgentClientError) -> AgentReply {
        let deadline = EventLoop.monotonicMilliseconds() + Int64(timeoutMilliseconds)
        let address: SocketAddress
        do {
            address = try SocketAddress.resolve(host: host, port: port)
        } catch {
            throw .unreachable("cannot reach the agent at \(url): \(error)")
        }
        let fd = try connect(address, deadline: deadline)
        defer { Syscall.close(fd) }
        let payload = body.map { Array($0.serialized().utf8) } ?? []
        var head = "\(method) \(path) HTTP/1.1\r\nhost: \(host):\(port)\r\naccept: application/json\r\n"
        head += "user-agent: devmesh-cli\r\nconnection: close\r\n"
        if body != nil { head += "content-type: application/json\r\ncontent-length: \(payload.count)\r\n" }
        head += "\r\n"
        try write(fd, Array(head.utf8) + payload, deadline: deadline)
        let response = try readToEnd(fd, deadline: deadline)
        return try parse(response, method: method)
    }

    private func connect(_ address: SocketAddress, deadline: Int64) throws(AgentClientError) -> Int32 {
        let fd: Int32
        let connected: Bool
        do {
            (fd, connected) = try Sockets.connect(to: address)
        } catch {
            throw .unreachable("cannot reach the agent at \(url): \(error); is `devmesh agent` running? "
                               + "(set --agent or DEVMESH_AGENT)")
        }
        if !connected {
            guard wait(fd, for: Int16(POLLOUT), deadline: deadline) else {
                Syscall.close(fd)
                throw .unreachable("cannot reach the agent at \(url): connect timed out")
            }
            if let error = Syscall.socketError(fd) {
                Syscall.close(fd)
                throw .unreachable("cannot reach the agent at \(url): \(error); is `devmesh agent` running? "
                                   + "(set --agent or DEVMESH_AGENT)")
            }
        }
        return fd
    }

    private func write(_ fd: Int32, _ bytes: [UInt8], deadline: Int64) throws(AgentClientError) {
        var offset = 0
        while offset < bytes.count {
            // SAFETY: offset < bytes.count (loop condition), so the range sent is inside the array.
            let result = bytes.withUnsafeBytes { raw in try? Syscall.send(fd, raw.baseAddress! + offset, raw.count - offset) }
            switch result {
            case .done(let sent)?: offset += sent
            case .wouldBlock?:
                guard wait(fd, for: Int16(POLLOUT), deadline: deadline) else { throw .unreachable("\(url): send timed out") }
            case nil:
                throw .unreachable("\(url): the connection failed while sending: \(Errno.current)")
            }
        }
    }

    private func readToEnd(_ fd: Int32, deadline: Int64) throws(AgentClientError) -> [UInt8] {
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            // SAFETY: chunk is a non-empty array; read writes at most raw.count bytes into it.
            let result = chunk.withUnsafeMutableBytes { raw in try? Syscall.read(fd, raw.baseAddress!, raw.count) }
            switch result {
            case .done(0)?: return response
            case .done(let count)?:
                response.append(contentsOf: chunk[0..<count])
                guard response.count <= 64 << 20 else { throw .protocolError("\(url): the answer is larger than 64 MiB") }
            case .wouldBlock?:
                guard wait(fd, for: Int16(POLLIN), deadline: deadline) else {
                    throw .unreachable("\(url): no answer within \(timeoutMilliseconds / 1000) s")
                }
            case nil:
                throw .unreachable("\(url): the connection failed while reading: \(Errno.current)")
            }
        }
    }

    private func parse(_ response: [UInt8], method: String) throws(AgentClientError) -> AgentReply {
        let storage = HeaderStorage(capacity: 100)
        var hint = 0
        let parsed: (status: Int, headLength: Int, contentLength: Int?)? = response.withUnsafeBytes { raw in
            let requestMethod: HTTPMethod = method == "HEAD" ? .head : .get
            guard case .complete(let head) = ResponseHeadParser.parse(raw, into: storage, limits: HTTP1Limits(),
                                                                     requestMethod: requestMethod, scanFrom: &hint)
            else { return nil }
            var length: Int?
            if case .contentLength(let declared) = head.framing { length = Int(clamping: declared) }
            return (Int(head.status), head.headLength, length)
        }
        guard let parsed else { throw .protocolError("\(url) did not answer with HTTP (is it the agent's --http port?)") }
        var body = Array(response[parsed.headLength...])
        if let length = parsed.contentLength {
            guard body.count >= length else { throw .protocolError("\(url): the answer was cut short") }
            body = Array(body[..<length])
        }
        let trimmed = body.filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }
        guard !trimmed.isEmpty else { return AgentReply(status: parsed.status, body: nil) }
        do {
            return AgentReply(status: parsed.status, body: try JSONParser.parse(body))
        } catch {
            throw .protocolError("\(url) answered \(parsed.status) with a body that is not JSON: \(error)")
        }
    }

    private func wait(_ fd: Int32, for events: Int16, deadline: Int64) -> Bool {
        while true {
            let left = deadline - EventLoop.monotonicMilliseconds()
            guard left > 0 else { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: left))
            if ready > 0 { return true }
            if ready == 0 { return false }
            if errno != EINTR { return true } // let the next read or send report the error
        }
    }
}

/// A status and a JSON body.
public struct AgentReply: Sendable {
    public var status: Int
    public var body: JSONValue?

    /// The `error.message` of an error body (with its field), or a generic text.
    public var errorMessage: String {
        if let detail = body?.objectValue?["error"]?.objectValue, let message = detail["message"]?.stringValue {
            if let field = detail["field"]?.stringValue { return "\(field): \(message)" }
            return message
        }
        return "the agent answered HTTP \(status)"
    }
}

public enum AgentClientError: Error, CustomStringConvertible, Sendable {
    case badURL(String)
    case unreachable(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .badURL(let text), .unreachable(let text), .protocolError(let text): text
        }
    }
}

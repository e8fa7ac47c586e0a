import DevmeshAgent
import DevmeshIO
import DevmeshRoutesAPI
import Dispatch
import Glibc
import Synchronization
import XCTest

/// The HTTP server over real loopback sockets: framing, keep-alive, limits, and the CLI's client.
final class AgentServerTests: XCTestCase {
    /// Runs an agent on its own thread for the test; stopped and joined at teardown.
    private func startAgent() throws -> UInt16 {
        let directory = Fixture.temporaryDirectory(self)
        let waker = try LoopWaker.make()
        let port = Mutex<UInt16>(0)
        let started = DispatchSemaphore(value: 0)
        let thread = PosixThread.start(name: "agent-test") {
            var options = AgentOptions(dataDirectory: directory)
            options.httpAddress = "127.0.0.1:0"
            options.grpcAddress = "127.0.0.1:0"
            let server = try! AgentServer(options: options, waker: waker)
            port.withLock { $0 = server.httpAddress.port }
            started.signal()
            server.loop.onWakeUp = { server.loop.stop() }
            server.loop.run()
            server.shutdown()
        }
        started.wait()
        addTeardownBlock {
            waker.wake()
            thread.join()
        }
        return port.withLock { $0 }
    }

    /// Sends raw bytes and reads until the server closes (or 5 s pass).
    private func exchange(_ port: UInt16, _ chunks: [String], pauseUntil marker: String? = nil) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = SocketAddress(ip: "127.0.0.1", port: port)!
        let connected = address.withSockAddr { connect(fd, $0, $1) }
        XCTAssertEqual(connected, 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        for (index, chunk) in chunks.enumerated() {
            _ = Array(chunk.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if index == 0, let marker {
                // Wait for the server's interim answer before sending the rest.
                while !String(decoding: received, as: UTF8.self).contains(marker) {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    received += buffer[0..<count]
                }
            }
        }
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    private func statusLines(_ text: String) -> [String] {
        // "\r\n" is one Character in Swift; the JSON bodies end in a bare "\n".
        text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).map(String.init).filter { $0.hasPrefix("HTTP/1.1 ") }
    }

    private let body = #"{"name":"a","forks":[{"forkOf":{"kind":"Deployment","namespace":"n","name":"w"},"#
        + #""ports":[{"workloadPort":80,"destinations":[{"host":"a.svc","port":80}]}]}]}"#

    func testClientRoundTrip() throws {
        let port = try startAgent()
        let client = try AgentClient(url: "http://127.0.0.1:\(port)/")
        let created = try client.send("POST", "/api/v1/sandboxes", body: try JSONParser.parse(body))
        XCTAssertEqual(created.status, 201)
        let key = try XCTUnwrap(created.body?.objectValue?["routingKey"]?.stringValue)
        let rules = try client.send("GET", "/api/v1/workloads/routing-rules?routingKey=\(key)")
        let response = try GetWorkloadRoutingRulesResponse(json: try XCTUnwrap(rules.body))
        XCTAssertEqual(response.routingRules.map(\.destinationSandbox?.name), ["a"])
        let missing = try client.send("GET", "/api/v1/sandboxes/zzz")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.errorMessage, "no sandbox named \"zzz\"")
        XCTAssertEqual(try client.send("DELETE", "/api/v1/sandboxes/a").status, 204)
    }

    func testFramingKeepAliveAndLimits() throws {
        let port = try startAgent()
        let length = body.utf8.count
        let bodyB = body.replacingOccurrences(of: "\"a\"", with: "\"b\"")
        // Two pipelined requests in one write, answered in order on one connection.
        let pipelined = exchange(port, ["GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n"
                                         + "POST /api/v1/sandboxes HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\n"
                                         + "content-length: \(length)\r\nconnection: close\r\n\r\n\(body)"])
        XCTAssertEqual(statusLines(pipelined), ["HTTP/1.1 200 OK", "HTTP/1.1 201 Created"], pipelined)

        let table: [(String, [String], String)] = [
            ("chunked body", ["POST /api/v1/sandboxes HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"],
             "HTTP/1.1 411 Length Required"),
            ("body over the limit, refused before it is sent",
             ["POST /api/v1/sandboxes HTTP/1.1\r\nhost: a\r\ncontent-length: 2000000\r\n\r\n"], "HTTP/1.1 413 Content Too Large"),
            ("malformed request line", ["GET /healthz HTTP/1.1 extra\r\nhost: a\r\n\r\n"], "HTTP/1.1 400 Bad Request"),
            ("HTTP/1.0 closes after the answer", ["GET /healthz HTTP/1.0\r\n\r\n"], "HTTP/1.1 200 OK"),
            ("a body split across writes", ["PUT /api/v1/sandboxes/b HTTP/1.1\r\nhost: a\r\nconnection: close\r\n"
                                            + "content-length: \(length)\r\n\r\n" + String(bodyB.prefix(10)),
                                            String(bodyB.dropFirst(10))],
             "HTTP/1.1 201 Created"),
        ]
        for (name, chunks, status) in table {
            XCTAssertEqual(statusLines(exchange(port, chunks)), [status], name)
        }

        // Expect: 100-continue: the server invites the body, then answers it.
        let continued = exchange(port, ["PUT /api/v1/sandboxes/c HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\n"
                                        + "connection: close\r\ncontent-length: \(length)\r\n\r\n",
                                        body.replacingOccurrences(of: "\"a\"", with: "\"c\"")],
                                 pauseUntil: "100 Continue\r\n\r\n")
        XCTAssertEqual(statusLines(continued), ["HTTP/1.1 100 Continue", "HTTP/1.1 201 Created"])
    }

    /// A client that pipelines requests and never reads the answers: once the answers fill the
    /// socket buffers the agent stops answering, buffers at most about one request more, then
    /// closes the connection instead of growing without bound.
    func testAClientThatNeverReadsIsCutOff() throws {
        let port = try startAgent()
        let client = try AgentClient(url: "http://127.0.0.1:\(port)")
        for index in 0..<40 {
            let sandbox = body.replacingOccurrences(of: "\"a\"", with: "\"s\(index)\"")
            XCTAssertEqual(try client.send("POST", "/api/v1/sandboxes", body: try JSONParser.parse(sandbox)).status, 201)
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = SocketAddress(ip: "127.0.0.1", port: port)!
        XCTAssertEqual(address.withSockAddr { connect(fd, $0, $1) }, 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let flood = Array(String(repeating: "GET /api/v1/sandboxes HTTP/1.1\r\nhost: a\r\n\r\n", count: 80_000).utf8)
        var sent = 0
        while sent < flood.count {
            let count = flood.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break } // the agent closed on us: what this test expects
            sent += count
        }
        // Now read: the answers already queued arrive, then the end of the connection (never a
        // timeout, which would mean the agent is still holding it open).
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var received = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { break }
            XCTAssertGreaterThan(count, 0, "timed out: the agent kept a flooding connection open (errno \(errno))")
            if count < 0 { break }
            received += count
        }
        XCTAssertLessThan(received, 80_000 * 12_000, "it stopped answering well before the end of the flood")
    }

    func testClientErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try AgentClient(url: "https://127.0.0.1:1")) { error in
            XCTAssertTrue("\(error)".contains("use http://HOST:PORT"), "\(error)")
        }
        XCTAssertThrowsError(try AgentClient(url: "http://127.0.0.1:1/api")) { error in
            XCTAssertTrue("\(error)".contains("without a path"), "\(error)")
        }
        // A port nothing listens on: refused, and the message points at the agent.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = SocketAddress(ip: "127.0.0.1", port: 0)!
        _ = address.withSockAddr { bind(fd, $0, $1) }
        let free = try Syscall.localAddress(fd).port
        close(fd)
        let client = try AgentClient(url: "http://127.0.0.1:\(free)", timeoutSeconds: 2)
        XCTAssertThrowsError(try client.send("GET", "/healthz")) { error in
            guard case .unreachable(let text)? = error as? AgentClientError else { return XCTFail("\(error)") }
            XCTAssertTrue(text.contains("devmesh agent"), text)
        }
    }
}

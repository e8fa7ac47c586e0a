import DevmeshIO
import Glibc
import XCTest

/// Descriptor passing over unix SOCK_SEQPACKET sockets, between two sockets of this process:
/// what arrives, what is lost, what is refused, and that nothing leaks.
final class FDPassingTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/devmesh-fdpassing-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(cString: try XCTUnwrap(made))
    }

    override func tearDown() {
        if let entries = try? FileManagerless.list(directory) {
            for name in entries { unlink(directory + "/" + name) }
        }
        rmdir(directory)
    }

    /// A listening socket, a connected client and the server's end of that connection.
    private func connectedPair(_ name: String = "s.sock") throws -> (listener: Int32, client: Int32, server: Int32) {
        let path = directory + "/" + name
        let listener = try FDPassing.listen(path: path)
        let client = try FDPassing.connect(path: path)
        guard case .done(let server) = try Syscall.accept(listener) else {
            XCTFail("the connection was not queued")
            throw Errno(EAGAIN)
        }
        return (listener, client, server)
    }

    private func send(_ fd: Int32, _ text: String, _ descriptors: [Int32] = []) throws -> IOResult<Int> {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { try FDPassing.send(fd, $0, descriptors: descriptors) }
    }

    private func receive(_ fd: Int32, capacity: Int = 1024) throws -> (text: String, message: FDPassing.ReceivedMessage) {
        var buffer = [UInt8](repeating: 0, count: capacity)
        XCTAssertTrue(FDPassing.waitReadable(fd, timeoutMilliseconds: 2_000), "nothing arrived")
        let result = try buffer.withUnsafeMutableBytes { try FDPassing.receive(fd, into: $0) }
        guard case .done(let message) = result else {
            XCTFail("receive would block after a readable wait")
            throw Errno(EAGAIN)
        }
        return (String(decoding: buffer[0..<min(message.byteCount, capacity)], as: UTF8.self), message)
    }

    private func openDescriptorCount() -> Int {
        (try? FileManagerless.list("/proc/self/fd").count) ?? -1
    }

    private func pipePair() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        return (fds[0], fds[1])
    }

    // MARK: What arrives

    func testDescriptorsArriveWithTheirMessageAndReferToTheSameFiles() throws {
        let (listener, client, server) = try connectedPair()
        defer { [listener, client, server].forEach { _ = close($0) } }
        for count in [1, 2, 16, FDPassing.maxDescriptorsPerMessage] {
            let pipes = (0..<count).map { _ in pipePair() }
            guard case .done(let sent) = try send(client, "batch \(count)", pipes.map(\.write)) else {
                return XCTFail("a fresh connection's buffer was full")
            }
            XCTAssertEqual(sent, "batch \(count)".utf8.count)
            let (text, message) = try receive(server)
            XCTAssertEqual(text, "batch \(count)")
            XCTAssertFalse(message.truncated)
            XCTAssertEqual(message.descriptors.count, count, "descriptors of a \(count)-descriptor message")
            for (index, received) in message.descriptors.enumerated() {
                // A byte written on the received copy comes out of the original pipe.
                var byte = UInt8(index & 0xFF)
                XCTAssertEqual(write(received, &byte, 1), 1)
                var back: UInt8 = 0
                XCTAssertEqual(read(pipes[index].read, &back, 1), 1)
                XCTAssertEqual(back, UInt8(index & 0xFF))
                XCTAssertEqual(fcntl(received, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "received descriptors are close-on-exec")
                close(received)
            }
            for pipe in pipes { close(pipe.read); close(pipe.write) }
        }
    }

    func testMessageBoundariesAreKept() throws {
        let (listener, client, server) = try connectedPair()
        defer { [listener, client, server].forEach { _ = close($0) } }
        let messages = ["first", "a second, longer message", "3"]
        for text in messages { _ = try send(client, text) }
        for text in messages {
            let (received, message) = try receive(server)
            XCTAssertEqual(received, text)
            XCTAssertEqual(message.byteCount, text.utf8.count)
            XCTAssertTrue(message.descriptors.isEmpty)
        }
    }

    // MARK: What is lost or refused

    func testAMessageLargerThanTheBufferIsMarkedTruncatedAndKeepsItsDescriptors() throws {
        let (listener, client, server) = try connectedPair()
        defer { [listener, client, server].forEach { _ = close($0) } }
        let pipe = pipePair()
        defer { close(pipe.read); close(pipe.write) }
        _ = try send(client, String(repeating: "x", count: 100), [pipe.write])
        let (_, message) = try receive(server, capacity: 10)
        XCTAssertTrue(message.truncated)
        XCTAssertEqual(message.byteCount, 10)
        // The receiver is handed the descriptor, so that it can close it rather than leak it.
        XCTAssertEqual(message.descriptors.count, 1)
        message.descriptors.forEach { _ = close($0) }
    }

    func testThePeerClosingIsAnEmptyMessage() throws {
        let (listener, client, server) = try connectedPair()
        defer { [listener, server].forEach { _ = close($0) } }
        close(client)
        let (_, message) = try receive(server)
        XCTAssertEqual(message.byteCount, 0)
        XCTAssertTrue(message.descriptors.isEmpty)
    }

    func testConnectTellsAMissingFileFromAStaleOne() throws {
        let missing = directory + "/missing.sock"
        let stale = directory + "/stale.sock"
        let listener = try FDPassing.listen(path: stale)
        close(listener) // the file stays, nobody listens: what a killed process leaves behind
        let cases: [(path: String, expected: Int32)] = [
            (missing, ENOENT),
            (stale, ECONNREFUSED),
            (String(repeating: "/a", count: 60), ENAMETOOLONG),
        ]
        for (path, expected) in cases {
            XCTAssertThrowsError(try FDPassing.connect(path: path), path) { error in
                XCTAssertEqual((error as? Errno)?.code, expected, path)
            }
        }
    }

    func testListenRefusesAnExistingFileAndCreatesAnOwnerOnlySocket() throws {
        let path = directory + "/owned.sock"
        let listener = try FDPassing.listen(path: path)
        defer { close(listener) }
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertThrowsError(try FDPassing.listen(path: path)) { error in
            XCTAssertEqual((error as? Errno)?.code, EADDRINUSE)
        }
    }

    func testRemoveSocketFileLeavesAReplacedFileAlone() throws {
        let path = directory + "/replaced.sock"
        let first = try FDPassing.listen(path: path)
        defer { close(first) }
        let firstIdentity = try XCTUnwrap(FDPassing.fileIdentity(path))
        FDPassing.removeSocketFile(path)
        let second = try FDPassing.listen(path: path)
        defer { close(second) }
        FDPassing.removeSocketFile(path, ifStill: firstIdentity)
        XCTAssertNotNil(FDPassing.fileIdentity(path), "the successor's file was removed")
        FDPassing.removeSocketFile(path, ifStill: try XCTUnwrap(FDPassing.fileIdentity(path)))
        XCTAssertNil(FDPassing.fileIdentity(path))
    }

    // MARK: Checks on a peer and on descriptors

    func testPeerCredentialsNameThisProcess() throws {
        let (listener, client, server) = try connectedPair()
        defer { [listener, client, server].forEach { _ = close($0) } }
        for fd in [client, server] {
            let peer = try FDPassing.peerCredentials(fd)
            XCTAssertEqual(peer.pid, getpid())
            XCTAssertEqual(peer.uid, geteuid())
        }
    }

    func testOnlyListeningTCPSocketsPassTheListenerCheck() throws {
        let tcpListener = try Sockets.listen(on: XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: 0)), reusePort: true)
        let unboundTCP = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let (unixListener, client, server) = try connectedPair()
        let pipe = pipePair()
        defer { [tcpListener, unboundTCP, unixListener, client, server, pipe.read, pipe.write].forEach { _ = close($0) } }
        let cases: [(fd: Int32, expected: Bool, what: String)] = [
            (tcpListener, true, "a listening TCP socket"),
            (unboundTCP, false, "a TCP socket that does not listen"),
            (unixListener, false, "a listening unix socket"),
            (client, false, "a connected unix socket"),
            (pipe.read, false, "a pipe"),
        ]
        for (fd, expected, what) in cases {
            XCTAssertEqual(FDPassing.isListeningTCPSocket(fd), expected, what)
        }
    }

    func testAListenerSurvivesInTheReceiverAfterTheSenderClosesIt() throws {
        // The handover in one process: the sender closes its copy, the received one still accepts.
        let (listener, client, server) = try connectedPair()
        defer { [listener, client, server].forEach { _ = close($0) } }
        let tcp = try Sockets.listen(on: XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: 0)), reusePort: true)
        let address = try Syscall.localAddress(tcp)
        _ = try send(client, "listener", [tcp])
        let (_, message) = try receive(server)
        close(tcp)
        let inherited = try XCTUnwrap(message.descriptors.first)
        defer { close(inherited) }
        XCTAssertEqual(try Syscall.localAddress(inherited), address)
        let (connection, _) = try Sockets.connect(to: address)
        defer { close(connection) }
        XCTAssertTrue(FDPassing.waitReadable(inherited, timeoutMilliseconds: 2_000))
        guard case .done(let accepted) = try Syscall.accept(inherited) else { return XCTFail("nothing to accept") }
        close(accepted)
    }

    func testAFullExchangeLeavesNoDescriptorBehind() throws {
        let before = openDescriptorCount()
        do {
            let (listener, client, server) = try connectedPair()
            let pipes = (0..<8).map { _ in pipePair() }
            _ = try send(client, "eight", pipes.map(\.write))
            let (_, message) = try receive(server)
            message.descriptors.forEach { _ = close($0) }
            for pipe in pipes { close(pipe.read); close(pipe.write) }
            [listener, client, server].forEach { _ = close($0) }
        }
        XCTAssertEqual(openDescriptorCount(), before)
    }
}

/// Directory listing without Foundation (DevmeshIO's tests use Glibc only).
enum FileManagerless {
    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw Errno.current }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

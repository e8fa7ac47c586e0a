import DevmeshIO
@testable import DevmeshProxy
import XCTest

/// The handover wire format: every message survives a round trip, and whatever a peer sends
/// that is out of place becomes a `malformed` error naming the problem, never a trap.
final class HandoverProtocolTests: XCTestCase {
    private func address(_ text: String) throws -> SocketAddress {
        let (host, port) = try SocketAddress.splitHostPort(text)
        return try XCTUnwrap(SocketAddress(ip: host, port: port))
    }

    func testEveryMessageRoundTrips() throws {
        let batch = HandoverBatch(pid: 4242, firstID: 3, isLast: true, entries: [
            HandedListener(kind: .worker, group: 0, worker: 1, address: try address("127.0.0.1:8080")),
            HandedListener(kind: .worker, group: 1, worker: 0, address: try address("[::1]:9090")),
            HandedListener(kind: .admin, group: 0, worker: 0, address: try address("127.0.0.1:9901")),
        ])
        let messages: [HandoverMessage] = [
            .hello(pid: 17), .listeners(batch), .serving(adopted: [3, 4, 5]), .serving(adopted: []),
            .done, .refused(reason: "draining"),
        ]
        for message in messages {
            XCTAssertEqual(try HandoverMessage.decode(message.encoded()[...]), message)
        }
    }

    func testMalformedPacketsAreRejectedWithAReason() throws {
        let good = HandoverMessage.serving(adopted: [1, 2]).encoded()
        var wrongVersion = good
        wrongVersion[4] = 9
        var unknownType = good
        unknownType[5] = 77
        var trailing = good
        trailing.append(0)
        var badAddress = HandoverMessage.listeners(HandoverBatch(pid: 1, firstID: 0, isLast: true, entries: [
            HandedListener(kind: .worker, group: 0, worker: 0, address: try address("127.0.0.1:80")),
        ])).encoded()
        // Turn the address text into a host name: a handover never resolves names.
        let text = Array("127.0.0.1:80".utf8)
        let at = try XCTUnwrap(badAddress.firstRange(of: text))
        badAddress.replaceSubrange(at, with: Array("localhost:80".utf8))
        var badFlags = HandoverMessage.listeners(HandoverBatch(pid: 1, firstID: 0, isLast: true, entries: []))
            .encoded()
        badFlags[4 + 1 + 1 + 4 + 2] = 0x80

        let cases: [(name: String, bytes: [UInt8], expected: String)] = [
            ("empty", [], "not a devmesh handover message"),
            ("other magic", Array("HTTP/1.1".utf8), "not a devmesh handover message"),
            ("version", wrongVersion, "protocol version 9"),
            ("type", unknownType, "unknown message type 77"),
            ("trailing byte", trailing, "unexpected byte"),
            ("truncated", Array(good.dropLast()), "malformed"),
            ("host name", badAddress, "not a numeric socket address"),
            ("flags", badFlags, "unknown flags"),
        ]
        for testCase in cases {
            XCTAssertThrowsError(try HandoverMessage.decode(testCase.bytes[...]), testCase.name) { error in
                XCTAssertTrue("\(error)".contains(testCase.expected), "\(testCase.name): \(error)")
            }
        }
    }

    /// Every prefix of a valid message is an error, never a crash or a different message.
    func testNoPrefixDecodes() throws {
        let batch = HandoverBatch(pid: 9, firstID: 0, isLast: false, entries: [
            HandedListener(kind: .worker, group: 2, worker: 3, address: try address("10.0.0.1:443")),
        ])
        for message in [HandoverMessage.listeners(batch), .refused(reason: "busy"), .hello(pid: 1)] {
            let bytes = message.encoded()
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try HandoverMessage.decode(bytes[..<length]), "\(message) cut at \(length)")
            }
        }
    }
}

import DevmeshRoutesAPI
import XCTest

final class GRPCFramingTests: XCTestCase {
    private let op = WorkloadRoutingRuleOp(
        op: .replace,
        route: WorkloadRoutingRule(routingKey: "4835rlwxwbwyl",
                                   baseline: BaselineWorkload(kind: "Deployment", namespace: "hotrod", name: "route"),
                                   destinationSandbox: DestinationSandbox(name: "better-route")))

    func testPrefixIsFlagThenBigEndianLength() {
        let framed = GRPCMessageFraming.frame([UInt8](repeating: 7, count: 0x0102))
        XCTAssertEqual(Array(framed.prefix(5)), [0, 0, 0, 0x01, 0x02])
        XCTAssertEqual(framed.count, 5 + 0x0102)
        XCTAssertEqual(GRPCMessageFraming.frame(op), GRPCMessageFraming.frame(op.serializedBytes()))
        XCTAssertEqual(GRPCMessageFraming.frame([]), [0, 0, 0, 0, 0])
    }

    /// The same stream of three messages cut at every possible pair of points yields the same
    /// messages.
    func testMessagesSurviveAnySplitOfTheStream() throws {
        let messages: [[UInt8]] = [op.serializedBytes(), [], WorkloadRoutingRuleOp(op: .synced).serializedBytes()]
        let stream = messages.flatMap { GRPCMessageFraming.frame($0) }
        for first in 0...stream.count {
            for second in stride(from: first, through: stream.count, by: 3) {
                var deframer = GRPCMessageDeframer()
                var out: [[UInt8]] = []
                for piece in [stream[..<first], stream[first..<second], stream[second...]] {
                    deframer.append(Array(piece))
                    while let message = try deframer.nextMessage() { out.append(message) }
                }
                XCTAssertEqual(out, messages, "split at \(first), \(second)")
                XCTAssertNoThrow(try deframer.finish())
            }
        }
        let decoded = try WorkloadRoutingRuleOp(serializedBytes: messages[0])
        XCTAssertEqual(decoded, op)
    }

    func testBadFramesAreTypedErrorsWithAGRPCStatus() {
        let table: [(String, [UInt8], Int, GRPCFramingError, Int)] = [
            ("compressed flag", [1, 0, 0, 0, 1, 0], 1024, .compressedMessageNotSupported, 12),
            ("flag 2", [2, 0, 0, 0, 0], 1024, .invalidCompressedFlag(2), 13),
            ("over the limit, refused from the prefix alone", [0, 0, 0, 4, 1], 1024,
             .messageTooLarge(length: 1025, limit: 1024), 8),
            ("largest declared length", [0, 0xFF, 0xFF, 0xFF, 0xFF], GRPCMessageFraming.defaultMaxMessageBytes,
             .messageTooLarge(length: UInt32.max, limit: GRPCMessageFraming.defaultMaxMessageBytes), 8),
        ]
        for (name, bytes, limit, expected, status) in table {
            var deframer = GRPCMessageDeframer(maxMessageBytes: limit)
            deframer.append(bytes)
            XCTAssertThrowsError(try deframer.nextMessage(), name) { error in
                XCTAssertEqual(error as? GRPCFramingError, expected, name)
                XCTAssertEqual((error as? GRPCFramingError)?.grpcStatus, status, name)
            }
        }
    }

    func testAMessageExactlyAtTheLimitIsAccepted() throws {
        var deframer = GRPCMessageDeframer(maxMessageBytes: 3)
        deframer.append(GRPCMessageFraming.frame([1, 2, 3]))
        XCTAssertEqual(try deframer.nextMessage(), [1, 2, 3])
    }

    func testAStreamEndingInsideAMessageIsReported() throws {
        var deframer = GRPCMessageDeframer()
        deframer.append(Array(GRPCMessageFraming.frame(op).dropLast()))
        XCTAssertNil(try deframer.nextMessage())
        XCTAssertThrowsError(try deframer.finish()) { error in
            guard case .truncated? = error as? GRPCFramingError else { return XCTFail("\(error)") }
        }
    }
}

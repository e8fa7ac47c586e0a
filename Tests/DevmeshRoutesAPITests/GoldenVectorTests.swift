import DevmeshRoutesAPI
import Foundation
import XCTest

/// Byte-for-byte agreement with Google's protobuf runtime. golden.json is written by
/// Golden/make_golden.py from Python classes generated from proto/routes.proto; the integration
/// suite (test_agent_codec.py) fails when it is stale.
final class GoldenVectorTests: XCTestCase {
    /// Per message type: JSON -> our encoding, bytes -> our decoding re-encoded, and a check that
    /// decoding the bytes gives the struct read from JSON.
    struct Codec: Sendable {
        let encodeJSON: @Sendable (JSONValue) throws -> [UInt8]
        let reencode: @Sendable ([UInt8]) throws -> [UInt8]
        let decodedEqualsJSON: @Sendable ([UInt8], JSONValue) throws -> Bool
    }

    static func codec<Message: ProtobufMessage & JSONMappable>(_ type: Message.Type) -> Codec {
        Codec(encodeJSON: { try Message(json: $0).serializedBytes() },
              reencode: { try Message(serializedBytes: $0).serializedBytes() },
              decodedEqualsJSON: { try Message(serializedBytes: $0) == Message(json: $1) })
    }

    static let codecs: [String: Codec] = [
        "WorkloadRoutingRule": codec(WorkloadRoutingRule.self),
        "WorkloadRoutingRuleOp": codec(WorkloadRoutingRuleOp.self),
        "WorkloadRoutingRulesRequest": codec(WorkloadRoutingRulesRequest.self),
        "GetWorkloadRoutingRulesResponse": codec(GetWorkloadRoutingRulesResponse.self),
        "GetClusterServicesRequest": codec(GetClusterServicesRequest.self),
        "GetClusterServicesResponse": codec(GetClusterServicesResponse.self),
        "Location": codec(Location.self),
    ]

    private func loadGolden() throws -> JSONObject {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/golden.json")
        let bytes = try [UInt8](Data(contentsOf: url))
        return try XCTUnwrap(try JSONParser.parse(bytes).objectValue)
    }

    func testEncodingsMatchPythonByteForByte() throws {
        let cases = try XCTUnwrap(try loadGolden()["cases"]?.arrayValue)
        XCTAssertGreaterThan(cases.count, 50)
        for entry in cases {
            let object = try XCTUnwrap(entry.objectValue)
            let name = try XCTUnwrap(object["name"]?.stringValue)
            let type = try XCTUnwrap(object["type"]?.stringValue)
            let codec = try XCTUnwrap(Self.codecs[type], "no codec for \(type)")
            let json = try XCTUnwrap(object["json"])
            let expected = Hex.decode(try XCTUnwrap(object["hex"]?.stringValue))
            XCTAssertEqual(Hex.encode(try codec.encodeJSON(json)), Hex.encode(expected), "\(name): encoding")
            XCTAssertTrue(try codec.decodedEqualsJSON(expected, json), "\(name): decoding")
        }
    }

    func testDecoderAgreesWithPythonOnMutatedInput() throws {
        let mutations = try XCTUnwrap(try loadGolden()["mutations"]?.arrayValue)
        var accepted = 0
        var rejected = 0
        for (index, entry) in mutations.enumerated() {
            let object = try XCTUnwrap(entry.objectValue)
            let type = try XCTUnwrap(object["type"]?.stringValue)
            let how = try XCTUnwrap(object["how"]?.stringValue)
            let codec = try XCTUnwrap(Self.codecs[type])
            let input = Hex.decode(try XCTUnwrap(object["input"]?.stringValue))
            let label = "mutation \(index) (\(how) \(type)) \(Hex.encode(input))"
            if object["accepted"] == .bool(true) {
                let canonical = try XCTUnwrap(object["canonical"]?.stringValue)
                XCTAssertEqual(Hex.encode(try codec.reencode(input)), canonical, label)
                accepted += 1
            } else {
                XCTAssertThrowsError(try codec.reencode(input), "\(label): Python rejects it")
                rejected += 1
            }
        }
        // Both outcomes must be exercised for the agreement to mean anything.
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(rejected, 100)
    }
}

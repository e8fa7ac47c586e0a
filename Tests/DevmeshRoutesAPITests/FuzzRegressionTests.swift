import DevmeshRoutesAPI
import Foundation
import XCTest

/// Replays the FuzzRouteUpdate and FuzzRoutesJSON seed corpora and every committed finding
/// (`FuzzTesting/FailCases/<target>/`, docs/fuzzing.md) with the targets' checks, so a finding
/// stays fixed in a plain `swift test` without the libFuzzer build. (FuzzRoundTripTests makes
/// its own random messages; this file replays the inputs libFuzzer found.)
final class FuzzRegressionTests: XCTestCase {
    func testRouteUpdateInputsDecodeOrFailTyped() throws {
        let replayed = try forEachInput(of: "FuzzRouteUpdate") { bytes, name in
            guard let selector = bytes.first else { return }
            let body = Array(bytes.dropFirst())
            switch selector {
            case 0: assertRoundTrip(WorkloadRoutingRuleOp.self, body, name)
            case 1: assertRoundTrip(GetWorkloadRoutingRulesResponse.self, body, name)
            case 2: assertRoundTrip(WorkloadRoutingRule.self, body, name)
            case 3: assertRoundTrip(WorkloadRoutingRulesRequest.self, body, name)
            case 4: assertRoundTrip(GetClusterServicesResponse.self, body, name)
            default:
                let whole = deframe(body, chunkSize: max(body.count, 1))
                XCTAssertEqual(deframe(body, chunkSize: Int(selector % 16) + 1), whole, name)
                for message in whole.messages { assertRoundTrip(WorkloadRoutingRuleOp.self, message, name) }
            }
        }
        XCTAssertGreaterThan(replayed, 0)
    }

    func testRoutesJSONInputsParseOrFailTyped() throws {
        let replayed = try forEachInput(of: "FuzzRoutesJSON") { bytes, name in
            let value: JSONValue
            do throws(JSONParseError) {
                value = try JSONParser.parse(bytes)
            } catch {
                XCTAssertTrue((0...bytes.count).contains(error.offset), "\(name): \(error)")
                return
            }
            for pretty in [false, true] {
                let text = value.serialized(pretty: pretty)
                do throws(JSONParseError) {
                    XCTAssertEqual(try JSONParser.parse(text), value, "\(name), pretty: \(pretty)")
                } catch {
                    XCTFail("\(name): the writer's output (pretty: \(pretty)) does not parse: \(error)")
                }
            }
        }
        XCTAssertGreaterThan(replayed, 0)
    }

    // MARK: Findings (one test per committed fail case; none yet)

    // MARK: Helpers

    private func forEachInput(of target: String, _ body: ([UInt8], String) -> Void) throws -> Int {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzTesting")
        var replayed = 0
        for folder in ["Corpus", "FailCases"] {
            let directory = root.appendingPathComponent(folder).appendingPathComponent(target)
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            where !file.hasPrefix(".") {
                body([UInt8](try Data(contentsOf: directory.appendingPathComponent(file))), "\(folder)/\(file)")
                replayed += 1
            }
        }
        return replayed
    }

    /// Decodes, and when accepted checks that the encoding is a fixed point.
    private func assertRoundTrip<Message: ProtobufMessage>(_ type: Message.Type, _ bytes: [UInt8], _ name: String,
                                                           file: StaticString = #filePath, line: UInt = #line) {
        guard case .success(let message) = decodeResult(Message.self, bytes) else { return }
        let encoded = message.serializedBytes()
        XCTAssertEqual(encoded.count, message.encodedSize, name, file: file, line: line)
        guard case .success(let again) = decodeResult(Message.self, encoded) else {
            return XCTFail("\(name): the encoding of an accepted \(Message.self) does not decode", file: file, line: line)
        }
        XCTAssertEqual(again, message, name, file: file, line: line)
        XCTAssertEqual(again.serializedBytes(), encoded, name, file: file, line: line)
    }

    private struct Deframed: Equatable {
        var messages: [[UInt8]] = []
        var error: GRPCFramingError?
        var leftover = 0
    }

    /// The deframer over `bytes` fed in `chunkSize` pieces, with FuzzRouteUpdate's small limit.
    private func deframe(_ bytes: [UInt8], chunkSize: Int) -> Deframed {
        var deframer = GRPCMessageDeframer(maxMessageBytes: 512)
        var result = Deframed()
        var offset = 0
        repeat {
            let end = min(offset + chunkSize, bytes.count)
            deframer.append(Array(bytes[offset..<end]))
            offset = end
            do throws(GRPCFramingError) {
                while let message = try deframer.nextMessage() { result.messages.append(message) }
            } catch {
                result.error = error
                return result
            }
        } while offset < bytes.count
        result.leftover = deframer.bufferedBytes
        return result
    }
}

import DevmeshRoutesAPI
import XCTest

/// Seeded random messages and random corruptions: encoding round-trips exactly, and no input,
/// however broken, makes the decoder trap (a trap would kill the test process).
final class FuzzRoundTripTests: XCTestCase {
    private let alphabet: [String] = ["", "a", "Deployment", "hotrod", "é", "日本", "🚀", "4835rlwxwbwyl",
                                      String(repeating: "x", count: 130)]

    private func randomString(_ rng: inout SeededGenerator) -> String {
        (0..<Int.random(in: 0...2, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
    }

    private func randomUInt32(_ rng: inout SeededGenerator) -> UInt32 {
        [0, 1, 127, 128, 65535, UInt32.max, UInt32.random(in: 0...UInt32.max, using: &rng)].randomElement(using: &rng)!
    }

    private func randomRule(_ rng: inout SeededGenerator) -> WorkloadRoutingRule {
        WorkloadRoutingRule(
            routingKey: randomString(&rng),
            baseline: Bool.random(using: &rng)
                ? BaselineWorkload(kind: randomString(&rng), namespace: randomString(&rng), name: randomString(&rng))
                : nil,
            destinationSandbox: Bool.random(using: &rng) ? DestinationSandbox(name: randomString(&rng)) : nil,
            mappings: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                WorkloadPortMapping(workloadPort: randomUInt32(&rng),
                                    destinations: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                                        Location(host: randomString(&rng), port: randomUInt32(&rng))
                                    })
            })
    }

    func testRandomMessagesRoundTripExactly() throws {
        var rng = SeededGenerator(seed: 0xD5_7E_5A)
        for iteration in 0..<3000 {
            let op = WorkloadRoutingRuleOp(op: WatchOp(rawValue: Int32.random(in: -2...5, using: &rng)),
                                           route: Bool.random(using: &rng) ? randomRule(&rng) : nil)
            let bytes = op.serializedBytes()
            XCTAssertEqual(bytes.count, op.encodedSize)
            XCTAssertEqual(try WorkloadRoutingRuleOp(serializedBytes: bytes), op, "iteration \(iteration)")
            // The JSON form round-trips too (presence aside: JSON writes every sub-message).
            let rule = op.route ?? WorkloadRoutingRule()
            let viaJSON = try WorkloadRoutingRule(json: try JSONParser.parse(rule.json.serialized()))
            XCTAssertEqual(viaJSON.mappings, rule.mappings)
            XCTAssertEqual(viaJSON.routingKey, rule.routingKey)
        }
    }

    /// Mutations of valid encodings and plain random bytes: the decoder either throws a typed
    /// error or yields a message whose own encoding decodes back to it (a fixed point).
    func testCorruptedInputNeverTrapsAndAcceptedInputIsStable() {
        var rng = SeededGenerator(seed: 0xBAD_C0DE)
        var accepted = 0
        var rejected = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8]
            if Bool.random(using: &rng) {
                bytes = GetWorkloadRoutingRulesResponse(routingRules: [randomRule(&rng), randomRule(&rng)]).serializedBytes()
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    let index = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes.removeSubrange(index...)
                    default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                    }
                }
            } else {
                bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            switch decodeResult(GetWorkloadRoutingRulesResponse.self, bytes) {
            case .success(let message):
                accepted += 1
                XCTAssertEqual(decodeResult(GetWorkloadRoutingRulesResponse.self, message.serializedBytes()).success,
                               message)
            case .failure:
                rejected += 1
            }
        }
        XCTAssertGreaterThan(accepted, 500)
        XCTAssertGreaterThan(rejected, 5000)
    }
}

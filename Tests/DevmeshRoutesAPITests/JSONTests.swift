import DevmeshRoutesAPI
import XCTest

final class JSONTests: XCTestCase {
    func testValidDocumentsParse() throws {
        let table: [(String, JSONValue)] = [
            ("null", .null), ("true", true), (" false ", false), ("0", 0), ("-0", .number(-0.0)),
            ("12.5e1", .number(125)), ("1E-2", .number(0.01)), ("\"\"", ""),
            ("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\"", "a\"b\\c/d\n\té"),
            ("\"\\ud83d\\ude80\"", "🚀"), ("\"日本\"", "日本"),
            ("[]", []), ("[1, [2, []]]", [1, [2, []]]), ("{}", [:]),
            ("{\"a\": {\"b\": [true, null]}}", ["a": ["b": [true, nil]]]),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try JSONParser.parse(text), expected, text)
        }
    }

    func testInvalidDocumentsAreRejectedWithAnOffset() {
        let table: [(String, Int)] = [
            ("", 0), ("nul", 0), ("[1,]", 3), ("{\"a\":1,}", 7), ("01", 1), ("1.", 2), ("-", 1), (".5", 0),
            ("\"abc", 0), ("\"\u{01}\"", 1), ("\"\\x\"", 2), ("\"\\ud800\"", 7), ("\"\\udc00\"", 7),
            ("{\"a\":1,\"a\":2}", 7), ("{a:1}", 1), ("[1 2]", 3), ("true false", 5), ("NaN", 0),
            ("1e999", 0), ("// c\n1", 0),
        ]
        for (text, offset) in table {
            XCTAssertThrowsError(try JSONParser.parse(text), text) { error in
                XCTAssertEqual((error as? JSONParseError)?.offset, offset, "\(text): \(error)")
            }
        }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]), "invalid UTF-8")
        let deep = String(repeating: "[", count: JSONParser.maxDepth + 1) + String(repeating: "]", count: JSONParser.maxDepth + 1)
        XCTAssertThrowsError(try JSONParser.parse(deep), "depth")
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        XCTAssertNoThrow(try JSONParser.parse(ok))
    }

    func testWriterEscapesAndRoundTrips() throws {
        let value: JSONValue = ["s": "q\"b\\n\n\u{01}é🚀", "n": [0, -3, 1.5, 4294967295], "o": [:], "a": []]
        let compact = value.serialized()
        XCTAssertTrue(compact.contains(#""q\"b\\n\n\u0001é🚀""#), compact)
        XCTAssertTrue(compact.contains("4294967295"), compact)
        XCTAssertEqual(try JSONParser.parse(compact), value)
        XCTAssertEqual(try JSONParser.parse(value.serialized(pretty: true)), value)
    }

    func testTwinShapeHasEveryRequiredField() throws {
        let rule = WorkloadRoutingRule(routingKey: "k", baseline: BaselineWorkload(kind: "Deployment", namespace: "ns", name: "n"),
                                       destinationSandbox: DestinationSandbox(name: "s"),
                                       mappings: [WorkloadPortMapping(workloadPort: 8080, destinations: [])])
        let text = GetWorkloadRoutingRulesResponse(routingRules: [rule]).json.serialized()
        XCTAssertEqual(text, #"{"routingRules":[{"routingKey":"k","baseline":{"kind":"Deployment","namespace":"ns","name":"n"},"#
                       + #""destinationSandbox":{"name":"s"},"mappings":[{"workloadPort":8080,"destinations":[]}]}]}"#)
    }

    func testReadingIgnoresUnknownMembersAndAcceptsProtoNames() throws {
        let text = #"{"routingRules":[{"routing_key":"k","future":{"x":1},"baseline":{"kind":"Deployment"},"#
            + #""destination_sandbox":{"name":"s"},"mappings":[{"workload_port":"8080","trafficManager":{},"#
            + #""destinations":[{"host":"h","port":80,"extra":true}]}]}],"enableVirtualWorkloads":true}"#
        let response = try GetWorkloadRoutingRulesResponse(jsonBytes: Array(text.utf8))
        XCTAssertEqual(response.routingRules, [WorkloadRoutingRule(
            routingKey: "k", baseline: BaselineWorkload(kind: "Deployment"), destinationSandbox: DestinationSandbox(name: "s"),
            mappings: [WorkloadPortMapping(workloadPort: 8080, destinations: [Location(host: "h", port: 80)])])])
    }

    func testWrongShapesNameThePathToFix() {
        let table: [(String, String)] = [
            (#"{"routingRules":{}}"#, "routingRules: expected an array, got an object"),
            (#"{"routingRules":[{"mappings":[{"workloadPort":-1}]}]}"#,
             "routingRules[0].mappings[0].workloadPort: expected an integer from 0 to 4294967295, got a number"),
            (#"{"routingRules":[{"baseline":{"kind":7}}]}"#, "routingRules[0].baseline.kind: expected a string, got a number"),
            (#"{"routingRules":[{"routingKey":"a","routing_key":"b"}]}"#,
             "routingRules[0].routingKey: given twice, as routingKey and routing_key"),
            (#"[1]"#, "expected an object, got an array"),
            (#"{"#, "invalid JSON at byte 1: expected a member name in double quotes"),
        ]
        for (text, message) in table {
            XCTAssertThrowsError(try GetWorkloadRoutingRulesResponse(jsonBytes: Array(text.utf8)), text) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
    }

    func testOpsUseEnumNamesAndKeepUnknownNumbers() throws {
        XCTAssertEqual(WorkloadRoutingRuleOp(op: .synced).json.serialized(), #"{"op":"SYNCED"}"#)
        XCTAssertEqual(WorkloadRoutingRuleOp(op: WatchOp(rawValue: 9)).json.serialized(), #"{"op":9}"#)
        XCTAssertEqual(try WorkloadRoutingRuleOp(json: ["op": "REMOVE"]).op, .remove)
        XCTAssertEqual(try WorkloadRoutingRuleOp(json: ["op": 2]).op, .replace)
        XCTAssertThrowsError(try WorkloadRoutingRuleOp(json: ["op": "DELETE"]))
    }

    func testQueryParametersMapToTheFilter() {
        let items: [(name: String, value: String)] = [("baselineKind", "Deployment"), ("baselineNamespace", "hotrod"),
                                                      ("baselineName", "route"), ("routingKey", "k"),
                                                      ("destinationSandboxName", "s"), ("enableVirtualWorkloads", "true"),
                                                      ("baselineName", "")]
        let request = WorkloadRoutingRulesRequest(queryItems: items)
        XCTAssertEqual(request, WorkloadRoutingRulesRequest(
            baselineWorkload: BaselineWorkload(kind: "Deployment", namespace: "hotrod", name: "route"),
            routingKey: "k", destinationSandbox: DestinationSandbox(name: "s")))
        XCTAssertEqual(WorkloadRoutingRulesRequest(queryItems: request.queryItems), request)
        XCTAssertEqual(WorkloadRoutingRulesRequest(queryItems: []), WorkloadRoutingRulesRequest())
    }

    func testFilterMatching() {
        let rule = WorkloadRoutingRule(routingKey: "k", baseline: BaselineWorkload(kind: "Deployment", namespace: "ns", name: "a"),
                                       destinationSandbox: DestinationSandbox(name: "s"))
        let table: [(WorkloadRoutingRulesRequest, Bool)] = [
            (WorkloadRoutingRulesRequest(), true),
            (WorkloadRoutingRulesRequest(baselineWorkload: BaselineWorkload()), true),
            (WorkloadRoutingRulesRequest(baselineWorkload: BaselineWorkload(namespace: "ns")), true),
            (WorkloadRoutingRulesRequest(baselineWorkload: BaselineWorkload(kind: "ArgoRollout")), false),
            (WorkloadRoutingRulesRequest(baselineWorkload: BaselineWorkload(kind: "Deployment", namespace: "ns", name: "b")), false),
            (WorkloadRoutingRulesRequest(routingKey: "k"), true),
            (WorkloadRoutingRulesRequest(routingKey: "K"), false),
            (WorkloadRoutingRulesRequest(destinationSandbox: DestinationSandbox(name: "s")), true),
            (WorkloadRoutingRulesRequest(destinationSandbox: DestinationSandbox(name: "t")), false),
            (WorkloadRoutingRulesRequest(destinationSandbox: DestinationSandbox()), true),
        ]
        for (index, (request, expected)) in table.enumerated() {
            XCTAssertEqual(request.matches(rule), expected, "row \(index)")
        }
    }
}

import DevmeshRoutesAPI
import XCTest

/// The wire rules one by one (protobuf encoding spec), each as a table of bytes and outcomes.
final class WireFormatTests: XCTestCase {
    func testVarintsEncodeAndDecodeAtEveryLengthBoundary() throws {
        let table: [(UInt64, String)] = [
            (0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (16383, "ff7f"), (16384, "808001"),
            (UInt64(UInt32.max), "ffffffff0f"), (1 << 63, "80808080808080808001"), (UInt64.max, "ffffffffffffffffff01"),
        ]
        for (value, hex) in table {
            var writer = ProtobufWriter()
            writer.writeVarint(value)
            XCTAssertEqual(Hex.encode(writer.bytes), hex, "encode \(value)")
            XCTAssertEqual(WireSize.varint(value), hex.count / 2, "size of \(value)")
            let bytes = Hex.decode(hex)
            let decoded = try bytes.withUnsafeBytes { raw in
                var reader = ProtobufReader(raw)
                return try reader.readVarint()
            }
            XCTAssertEqual(decoded, value, "decode \(hex)")
        }
    }

    func testDefaultsAreOmittedAndPresenceIsKept() {
        let table: [(String, [UInt8], String)] = [
            ("empty location", Location().serializedBytes(), ""),
            ("port 0 omitted", Location(host: "h", port: 0).serializedBytes(), "0a0168"),
            ("empty host omitted", Location(host: "", port: 80).serializedBytes(), "1050"),
            ("ADD (0) omitted", WorkloadRoutingRuleOp(op: .add).serializedBytes(), ""),
            ("SYNCED", WorkloadRoutingRuleOp(op: .synced).serializedBytes(), "0803"),
            ("absent baseline", WorkloadRoutingRule(routingKey: "k").serializedBytes(), "0a016b"),
            ("empty but present baseline", WorkloadRoutingRule(baseline: BaselineWorkload()).serializedBytes(), "1200"),
            ("negative enum", WorkloadRoutingRuleOp(op: WatchOp(rawValue: -2)).serializedBytes(),
             "08feffffffffffffffff01"),
        ]
        for (name, bytes, hex) in table {
            XCTAssertEqual(Hex.encode(bytes), hex, name)
        }
    }

    func testEncodedSizeMatchesTheBytesWritten() {
        let rule = WorkloadRoutingRule(
            routingKey: String(repeating: "k", count: 200),
            baseline: BaselineWorkload(kind: "Deployment", namespace: "ns", name: "n"),
            destinationSandbox: DestinationSandbox(name: "s"),
            mappings: [WorkloadPortMapping(workloadPort: 70000, destinations: [Location(host: "h", port: 1)])])
        XCTAssertEqual(rule.encodedSize, rule.serializedBytes().count)
        let op = WorkloadRoutingRuleOp(op: .replace, route: rule)
        XCTAssertEqual(op.encodedSize, op.serializedBytes().count)
    }

    /// Unknown fields of every wire type, including nested groups, are skipped: the known
    /// fields around them still decode.
    func testUnknownFieldsOfEveryWireTypeAreSkipped() throws {
        let known = "0a0168" + "1050" // host "h", port 80
        let unknown: [(String, String)] = [
            ("varint", "1801"),
            ("large field number varint", "f8ffffff0f01"), // field 2^29-1
            ("fixed64", "210102030405060708"),
            ("fixed32", "2d01020304"),
            ("length-delimited", "3203616263"),
            ("empty group", "3b3c"),
            ("group with contents", "3b08011a01783c"),
            ("nested groups", "3b43443c"),
            ("known field number, wrong wire type", "0d01020304"), // host as fixed32
        ]
        for (name, extra) in unknown {
            for placement in [extra + known, known + extra, "0a0168" + extra + "1050"] {
                let decoded = try Location(serializedBytes: Hex.decode(placement))
                XCTAssertEqual(decoded, Location(host: "h", port: 80), "\(name) in \(placement)")
            }
        }
    }

    func testRepeatedSingularFieldsMergeOrReplaceAsProtobufDoes() throws {
        // Two baseline occurrences merge (kind from the first, name from the second); two
        // routing keys: the last wins; repeated mappings append.
        let bytes = Hex.decode("0a0161" + "1203" + "0a014b" + "1203" + "1a014e" + "0a0162" + "22020801" + "22020802")
        let rule = try WorkloadRoutingRule(serializedBytes: bytes)
        XCTAssertEqual(rule.routingKey, "b")
        XCTAssertEqual(rule.baseline, BaselineWorkload(kind: "K", namespace: "", name: "N"))
        XCTAssertEqual(rule.mappings.map(\.workloadPort), [1, 2])
    }

    func testUInt32FieldsTakeTheLow32BitsOfALongerVarint() throws {
        // Port written as the 64-bit value 2^32 + 5: protobuf truncates to 5.
        let location = try Location(serializedBytes: Hex.decode("1085808080 10".replacingOccurrences(of: " ", with: "")))
        XCTAssertEqual(location.port, 5)
    }

    func testMalformedInputIsATypedErrorNeverATrap() {
        let table: [(String, String, ProtobufDecodingError)] = [
            ("key cut short", "80", .truncated),
            ("varint value cut short", "1080", .truncated),
            ("11-byte varint", "10ffffffffffffffffffff01", .malformedVarint),
            ("length past the end", "0a05616263", .lengthOutOfBounds),
            ("huge length", "0affffffffffffffff7f", .lengthOutOfBounds),
            ("fixed64 cut short", "11010203", .truncated),
            ("fixed32 cut short", "1501", .truncated),
            ("wire type 6", "0e", .invalidWireType(6)),
            ("wire type 7", "0f", .invalidWireType(7)),
            ("field number 0", "0001", .invalidFieldNumber(0)),
            ("field number 2^29", "8080808010", .invalidFieldNumber(1 << 29)),
            ("end group without start", "0c", .unbalancedGroup),
            ("group never closed", "0b0801", .unbalancedGroup),
            ("group closed with another number", "0b14", .unbalancedGroup),
            ("invalid UTF-8 host", "0a02c328", .invalidUTF8(field: "Location.host")),
            ("lone continuation byte", "0a0180", .invalidUTF8(field: "Location.host")),
        ]
        for (name, hex, expected) in table {
            XCTAssertEqual(decodeResult(Location.self, Hex.decode(hex)).failure, expected, name)
        }
    }

    func testNestedErrorsSurfaceFromInsideSubMessages() {
        // A rule whose mapping's destination has a bad UTF-8 host.
        let location = "0a01ff"
        let mapping = "12" + String(format2(location.count / 2)) + location
        let rule = "22" + String(format2(mapping.count / 2)) + mapping
        XCTAssertEqual(decodeResult(WorkloadRoutingRule.self, Hex.decode(rule)).failure,
                       .invalidUTF8(field: "Location.host"))
    }

    func testGroupNestingIsBounded() {
        let depth = ProtobufReader.maxDepth + 1
        let bytes = Hex.decode(String(repeating: "1b", count: depth) + String(repeating: "1c", count: depth))
        XCTAssertEqual(decodeResult(Location.self, bytes).failure, .nestingTooDeep)
        let shallow = Hex.decode(String(repeating: "1b", count: 8) + String(repeating: "1c", count: 8))
        XCTAssertEqual(decodeResult(Location.self, shallow).success, Location())
    }

    private func format2(_ value: Int) -> String {
        value < 16 ? "0" + String(value, radix: 16) : String(value, radix: 16)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}

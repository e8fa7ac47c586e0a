// FuzzRouteTable: RouteTable.build on specs derived from the input, then lookups.
//
// The input is read as a sequence of choices (`SpecReader`): carriers, services, hosts,
// endpoints, routes, then probe keys and Host values. Strings come from small alphabets that
// mix valid and invalid bytes, so specs land on both sides of every validation rule.
//
// Checks:
// - build returns a table or a typed `RouteTableError` (never traps), whose description is one
//   line (no raw byte below 0x20);
// - a built table is consistent with its spec: dense destination ids, baselines and routes in
//   spec order, fallbacks pointing at their own service's baseline, every configured route and
//   host found again (any case, with a port, with a trailing dot);
// - lookups of arbitrary keys and Host values agree with a dictionary model of the spec, and
//   `resolve` picks the first candidate that has a route, else the baseline;
// - `describe()` (the /routes JSON) holds no raw control byte.
import DevmeshBytes
import DevmeshRouting
import FuzzSupport

/// libFuzzer calls the target from one thread only.
nonisolated(unsafe) let candidates = RoutingKeyCandidates()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        var reader = SpecReader(ByteReader(input))
        let spec = reader.spec()
        let table: RouteTable
        do throws(RouteTableError) {
            table = try RouteTable.build(spec, version: 7)
        } catch {
            let text = error.description
            // JSON-style quoting escapes U+0000-U+001F (RFC 8259 §7); DEL may stay literal.
            fuzzCheck(!text.isEmpty && !text.utf8.contains(where: { $0 < 0x20 }),
                      "error description empty or holding a control byte: \(text.debugDescription)")
            return
        }
        TableInvariants.check(table, spec: spec)
        let model = TableModel(spec)
        for _ in 0..<8 {
            let service = reader.int(below: spec.services.count)
            let key = reader.probeKey(spec)
            let found = Array(key.utf8).withUnsafeBytes { table.sandboxDestination(service: service, key: $0) }
            fuzzCheck(found == model.routes[RouteKey(service: service, key: key)],
                      "key \(key.debugDescription) in service \(service): table \(String(describing: found)), model \(String(describing: model.routes[RouteKey(service: service, key: key)]))")
            let host = reader.probeHost(spec)
            let chosen = Array(host.utf8).withUnsafeBytes { table.service(forHost: $0) }
            fuzzCheck(chosen == model.service(forHost: host),
                      "host \(host.debugDescription): table \(String(describing: chosen)), model \(String(describing: model.service(forHost: host)))")
        }
        checkResolve(table, model: model, reader: &reader, spec: spec)
        let json = table.describe()
        fuzzCheck(!json.utf8.contains(where: { $0 < 0x20 }), "raw control byte in /routes JSON")
    }
}

/// Extracts candidates from a baggage line built of probe keys and checks the decision.
func checkResolve(_ table: RouteTable, model: TableModel, reader: inout SpecReader, spec: RoutingSpec) {
    guard let keyName = spec.carriers.keyNames.first, keyName.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2C && $0 != 0x3D && $0 != 0x3B }) else { return }
    let keys = (0..<reader.int(below: 5)).map { _ in reader.probeKey(spec) }
    let value = keys.map { "\(keyName)=\($0)" }.joined(separator: ",")
    let name = Array("baggage".utf8)
    let bytes = Array(value.utf8)
    let service = reader.int(below: spec.services.count)
    name.withUnsafeBytes { nameView in
        bytes.withUnsafeBytes { valueView in
            let fields = [HeaderField(name: nameView, value: valueView)]
            fields.withUnsafeBufferPointer { table.extractor.extract(from: $0, into: candidates) }
        }
    }
    let decision = table.resolve(service: service, candidates: candidates)
    var expected = RouteDecision(destination: table.services[service].baselineDestination, candidateIndex: -1,
                                 isSandbox: false)
    for index in 0..<candidates.count {
        let key = String(decoding: candidates.key(at: index), as: UTF8.self)
        if let destination = model.routes[RouteKey(service: service, key: key)] {
            expected = RouteDecision(destination: destination, candidateIndex: index, isSandbox: true)
            break
        }
    }
    fuzzCheck(decision == expected, "resolve gave \(decision), expected \(expected) for \(value.debugDescription)")
}

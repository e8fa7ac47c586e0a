import DevmeshBytes
import DevmeshRouting
import Glibc

/// Bytes at a stable address for the whole life of a scenario: the parsers and the router
/// take raw views, exactly as they get them from a read buffer in the proxy.
final class FixtureBytes {
    /// The whole allocation: `headroom` free bytes, then the content.
    let storage: UnsafeMutableRawBufferPointer
    let headroom: Int
    let count: Int

    init(_ content: [UInt8], headroom: Int = 0) {
        self.headroom = headroom
        count = content.count
        // 64-byte alignment: a cache line, like the proxy's pooled chunks.
        storage = .allocate(byteCount: headroom + content.count, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        content.withUnsafeBytes { source in
            // SAFETY: the allocation holds headroom + content.count bytes.
            (storage.baseAddress! + headroom).copyMemory(from: source.baseAddress!, byteCount: content.count)
        }
    }

    convenience init(_ text: String, headroom: Int = 0) {
        self.init(Array(text.utf8), headroom: headroom)
    }

    deinit { storage.deallocate() }

    /// The content (after the headroom).
    var view: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[headroom..<headroom + count])
    }
}

/// A header list as every codec hands it to routing: `HeaderField` views into one block of
/// bytes, in arrival order.
final class FixtureHeaders {
    let bytes: FixtureBytes
    let slots: UnsafeMutableBufferPointer<HeaderField>

    init(_ fields: [(name: String, value: String)]) {
        var content: [UInt8] = []
        var ranges: [(name: Range<Int>, value: Range<Int>)] = []
        for field in fields {
            let nameStart = content.count
            content += Array(field.name.utf8)
            let valueStart = content.count
            content += Array(field.value.utf8)
            ranges.append((nameStart..<valueStart, valueStart..<content.count))
        }
        bytes = FixtureBytes(content)
        slots = .allocate(capacity: fields.count)
        let base = bytes.view
        for (index, range) in ranges.enumerated() {
            slots.initializeElement(at: index, to: HeaderField(
                name: UnsafeRawBufferPointer(rebasing: base[range.name]),
                value: UnsafeRawBufferPointer(rebasing: base[range.value])))
        }
    }

    deinit { slots.deallocate() }

    var fields: UnsafeBufferPointer<HeaderField> { UnsafeBufferPointer(slots) }
}

/// Routing keys shaped like Signadot's (13 lower-case base-36 characters, e.g. `4835rlwxwbwyl`),
/// from a fixed seed so every run (and every machine) measures the same keys.
enum RoutingKeys {
    static func generate(count: Int, seed: UInt64) -> [String] {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        var state = seed
        var seen: Set<String> = []
        var keys: [String] = []
        keys.reserveCapacity(count)
        while keys.count < count {
            var key: [UInt8] = []
            for _ in 0..<13 {
                key.append(alphabet[Int(splitMix64(&state) % UInt64(alphabet.count))])
            }
            let text = String(decoding: key, as: UTF8.self)
            if seen.insert(text).inserted { keys.append(text) }
        }
        return keys
    }

    /// SplitMix64: a tiny, well-mixed deterministic generator.
    private static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Keys laid out back to back with a view per key, so a lookup loop cycles through them
/// without touching any Swift array or string.
final class FixtureKeys {
    let bytes: FixtureBytes
    let views: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>

    init(_ keys: [String]) {
        bytes = FixtureBytes(keys.flatMap { Array($0.utf8) })
        views = .allocate(capacity: keys.count)
        var offset = 0
        for (index, key) in keys.enumerated() {
            let length = key.utf8.count
            views.initializeElement(at: index, to: UnsafeRawBufferPointer(rebasing: bytes.view[offset..<offset + length]))
            offset += length
        }
    }

    deinit { views.deallocate() }

    var count: Int { views.count }
}

/// Routing specs shaped like real configurations.
enum FixtureSpecs {
    /// Sidecar mode: one default service, `keys.count` sandbox routes, one endpoint each.
    static func sidecar(routeKeys keys: [String]) -> RoutingSpec {
        RoutingSpec(services: [ServiceSpec(name: "orders", baseline: [EndpointSpec(host: "10.0.0.10", port: 8080)],
                                           routes: routes(keys, subnet: 1))])
    }

    /// Gateway mode: four services selected by Host, `keys.count` routes on `orders` and a few
    /// on the others, plus a default service.
    static func gateway(ordersRouteKeys keys: [String]) -> RoutingSpec {
        let others = ["payments", "catalog", "users"]
        var services = [ServiceSpec(name: "orders", hosts: ["orders.shop.svc.cluster.local", "orders"],
                                    baseline: [EndpointSpec(host: "10.0.0.10", port: 8080)],
                                    routes: routes(keys, subnet: 1))]
        for (index, name) in others.enumerated() {
            services.append(ServiceSpec(name: name, hosts: ["\(name).shop.svc.cluster.local", name],
                                        baseline: [EndpointSpec(host: "10.0.0.\(20 + index)", port: 8080)],
                                        routes: routes(RoutingKeys.generate(count: 5, seed: UInt64(100 + index)),
                                                       subnet: 2 + index)))
        }
        services.append(ServiceSpec(name: "fallback", baseline: [EndpointSpec(host: "10.0.0.99", port: 8080)]))
        return RoutingSpec(services: services)
    }

    private static func routes(_ keys: [String], subnet: Int) -> [RouteSpec] {
        keys.enumerated().map { index, key in
            RouteSpec(routingKey: key, sandbox: "sb-\(key)",
                      endpoints: [EndpointSpec(host: "10.\(subnet).\(index / 250).\(index % 250 + 1)", port: 8080)])
        }
    }
}

/// Stops the benchmark when a fixture does not do what the scenario claims (a parse that
/// fails, a key that does not hit): measuring the wrong path would be worse than no figure.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fixtureFailure(message()) }
}

func fixtureFailure(_ message: String) -> Never {
    printError("devmesh-microbench: fixture check failed: \(message)")
    exit(3)
}

import DevmeshBytes
import DevmeshRouting

/// DevmeshRouting: key extraction, table lookups, the whole per-request decision, and the cost
/// of building a table (a reload or a route push).
enum RoutingScenarios {
    static let all = [extractTypical, extractNone, extractAllCarriers,
                      lookup(routes: 1, name: "routing.lookup_1"),
                      lookup(routes: 100, name: "routing.lookup_100"),
                      lookup(routes: 10_000, name: "routing.lookup_10k"),
                      lookupMiss, hostExtractResolve,
                      tableBuild(routes: 1, name: "routing.table_build_1", iterations: 20_000, quick: 1_000),
                      tableBuild(routes: 100, name: "routing.table_build_100", iterations: 1_000, quick: 100),
                      tableBuild(routes: 10_000, name: "routing.table_build_10k", iterations: 10, quick: 3)]

    static let typicalKey = "4835rlwxwbwyl"

    /// The fields of a typical keyed request, as the parser hands them over.
    static func typicalHeaders() -> FixtureHeaders {
        FixtureHeaders([
            ("host", "orders.shop.svc.cluster.local:8080"),
            ("user-agent", "checkout/1.42.0"),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("baggage", "userId=alice,sd-routing-key=\(typicalKey),isProduction=false"),
            ("accept", "application/json"),
        ])
    }

    /// Extraction into a reused candidate list, results consumed.
    private static func extractionWorkload(_ extractor: RoutingKeyExtractor, _ headers: FixtureHeaders,
                                           expecting expected: [String]) -> Workload {
        let candidates = RoutingKeyCandidates()
        extractor.extract(from: headers.fields, into: candidates)
        require(candidates.keysForDebugging == expected,
                "extracted \(candidates.keysForDebugging), expected \(expected)")
        return Workload { iterations in
            for _ in 0..<iterations {
                extractor.extract(from: headers.fields, into: candidates)
                blackhole(candidates.count)
                if candidates.count > 0 { blackhole(UnsafeRawPointer(candidates.key(at: 0).baseAddress)) }
            }
            withExtendedLifetime(headers) {}
        }
    }

    static let extractTypical = Scenario(
        name: "routing.extract_typical",
        summary: "extract keys from 5 fields (traceparent, baggage with 3 members, one of them the key)",
        iterations: 500_000, quickIterations: 5_000
    ) {
        extractionWorkload(RoutingKeyExtractor(CarrierSpec()), typicalHeaders(), expecting: [typicalKey])
    }

    static let extractNone = Scenario(
        name: "routing.extract_none",
        summary: "extract keys from 5 fields without any carrier (an unkeyed request)",
        iterations: 1_000_000, quickIterations: 5_000
    ) {
        let headers = FixtureHeaders([
            ("host", "orders.shop.svc.cluster.local:8080"),
            ("user-agent", "checkout/1.42.0"),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("accept", "application/json"),
            ("x-request-id", "7c0a8f3e-2d1b-4f7a-9c55-0b3e6f1d2a90"),
        ])
        return extractionWorkload(RoutingKeyExtractor(CarrierSpec()), headers, expecting: [])
    }

    static let extractAllCarriers = Scenario(
        name: "routing.extract_all_carriers",
        summary: "extract 7 keys, one from each carrier (custom header, baggage, tracestate, uberctx-, ot-baggage-, baggage-, jaeger-baggage)",
        iterations: 200_000, quickIterations: 5_000
    ) {
        let keys = RoutingKeys.generate(count: 7, seed: 7)
        let headers = FixtureHeaders([
            ("host", "orders.shop.svc.cluster.local"),
            ("jaeger-baggage", "sd-routing-key=\(keys[6])"),
            ("baggage-sd-routing-key", keys[5]),
            ("ot-baggage-sd-routing-key", keys[4]),
            ("uberctx-sd-routing-key", keys[3]),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("tracestate", "rojo=00f067aa0ba902b7,sd-routing-key=\(keys[2])"),
            ("baggage", "userId=alice,sd-routing-key=\(keys[1])"),
            ("x-sandbox", keys[0]),
        ])
        // Arrival order is the reverse of precedence, so every key is inserted at the front.
        return extractionWorkload(RoutingKeyExtractor(CarrierSpec(customHeaders: ["x-sandbox"])), headers,
                                  expecting: keys)
    }

    /// One exact-key lookup in a table of `routes` routes, cycling through all its keys (so the
    /// 10k table's entries and key bytes come from all over memory, as with real traffic).
    static func lookup(routes: Int, name: String) -> Scenario {
        Scenario(name: name, summary: "look up a routing key that has a route, in a table of \(routes) route(s)",
                 iterations: 1_000_000, quickIterations: 20_000) {
            let keys = RoutingKeys.generate(count: routes, seed: 42)
            let table = buildOrDie(FixtureSpecs.sidecar(routeKeys: keys))
            return lookupWorkload(table, FixtureKeys(keys), expectHits: true)
        }
    }

    static let lookupMiss = Scenario(
        name: "routing.lookup_miss",
        summary: "look up a routing key without a route, in a table of 100 routes",
        iterations: 1_000_000, quickIterations: 20_000
    ) {
        let table = buildOrDie(FixtureSpecs.sidecar(routeKeys: RoutingKeys.generate(count: 100, seed: 42)))
        // A different seed: keys of the same shape that are not in the table.
        return lookupWorkload(table, FixtureKeys(RoutingKeys.generate(count: 100, seed: 4242)), expectHits: false)
    }

    private static func lookupWorkload(_ table: RouteTable, _ keys: FixtureKeys, expectHits: Bool) -> Workload {
        for index in 0..<keys.count {
            let hit = table.sandboxDestination(service: 0, key: keys.views[index]) != nil
            require(hit == expectHits, "key \(index) \(hit ? "has" : "has no") route")
        }
        return Workload { iterations in
            var index = 0
            for _ in 0..<iterations {
                blackhole(table.sandboxDestination(service: 0, key: keys.views[index]) ?? -1)
                index += 1
                if index == keys.count { index = 0 }
            }
            withExtendedLifetime(keys) {}
        }
    }

    static let hostExtractResolve = Scenario(
        name: "routing.host_extract_resolve",
        summary: "the whole routing decision: service by Host (5 services), extract keys, resolve (100 routes, hit)",
        iterations: 500_000, quickIterations: 5_000
    ) {
        var routeKeys = RoutingKeys.generate(count: 99, seed: 42)
        routeKeys.insert(typicalKey, at: 37)
        let table = buildOrDie(FixtureSpecs.gateway(ordersRouteKeys: routeKeys))
        let headers = typicalHeaders()
        let hostIndex = 0
        let candidates = RoutingKeyCandidates()

        let service = table.service(forHost: headers.fields[hostIndex].value)
        require(service.map { table.services[$0].name } == "orders", "Host did not select the orders service")
        table.extractor.extract(from: headers.fields, into: candidates)
        let decision = table.resolve(service: service ?? 0, candidates: candidates)
        require(decision.isSandbox && table.destinations[decision.destination].routingKey == typicalKey,
                "the request was not routed to its sandbox")

        return Workload { iterations in
            for _ in 0..<iterations {
                // As the proxy does per request: Host -> service, fields -> candidates -> destination.
                guard let service = table.service(forHost: headers.fields[hostIndex].value) else {
                    blackhole(-1)
                    continue
                }
                table.extractor.extract(from: headers.fields, into: candidates)
                blackhole(table.resolve(service: service, candidates: candidates).destination)
            }
            withExtendedLifetime(headers) {}
        }
    }

    /// `RouteTable.build` from a ready `RoutingSpec`: validation plus compilation, the work of
    /// a reload or a route push (the table is released after each build, as an old one is).
    static func tableBuild(routes: Int, name: String, iterations: Int, quick: Int) -> Scenario {
        Scenario(name: name, summary: "RouteTable.build from a spec with \(routes) route(s) (a reload)",
                 iterations: iterations, quickIterations: quick) {
            let spec = FixtureSpecs.sidecar(routeKeys: RoutingKeys.generate(count: routes, seed: 42))
            require(buildOrDie(spec).routeCount == routes, "table has the wrong route count")
            return Workload { iterations in
                for version in 0..<iterations {
                    do {
                        let table = try RouteTable.build(spec, version: UInt64(version))
                        blackhole(table.routeCount)
                    } catch {
                        blackhole(-1)
                    }
                }
            }
        }
    }

    private static func buildOrDie(_ spec: RoutingSpec) -> RouteTable {
        do {
            return try RouteTable.build(spec, version: 1)
        } catch {
            fixtureFailure("fixture spec rejected: \(error)")
        }
    }
}

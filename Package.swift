// swift-tools-version:6.0
//
// devmesh: an L7 routing proxy for sandboxed microservice testing.
// The target list mirrors the layers of ARCHITECTURE.md; a module may only import the
// modules listed as its dependencies here, which is how the layering is enforced.
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

/// The event loop and the proxy keep per-connection state in final classes that only their own
/// worker thread touches. Dynamic exclusivity checks on those class properties cost 29% of all
/// instructions per proxied request (callgrind, HTTP/1.1 keep-alive GET: swift_beginAccess,
/// AccessSet::insert and their TLS lookups, ~61 checks per request), so these two modules turn
/// them off. Static exclusivity checks still run at compile time. The pure layers that hold
/// per-request state in classes (DevmeshBytes' HeaderBlock, DevmeshRouting's extractor,
/// DevmeshHTTP1's storage) get the same setting: it cut the proxy's instructions per gRPC unary
/// call by 4.7% (callgrind, h2load through devmesh to a grpcio server: 49,536 -> 47,196).
let hotPath: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "devmesh",
    products: [
        .executable(name: "devmesh", targets: ["devmesh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C shim: only what Swift cannot call cleanly (see the header for the why of each symbol).
        .target(name: "CDevmeshLinux"),

        // Pure layers: no syscalls, no Foundation. Unit-tested, fuzzed and benchmarked without sockets.
        .target(name: "DevmeshBytes", swiftSettings: hotPath),
        .target(name: "DevmeshHTTP1", dependencies: ["DevmeshBytes"], swiftSettings: hotPath),
        .target(name: "DevmeshRouting", dependencies: ["DevmeshBytes"], swiftSettings: hotPath),

        // Configuration: YAML file and quick-start flags -> validated model (slow path, may use Foundation).
        .target(name: "DevmeshConfig",
                dependencies: ["DevmeshRouting", "DevmeshHTTP1", .product(name: "Yams", package: "Yams")],
                swiftSettings: strict),

        // The only layer that makes syscalls: epoll loop, sockets, timers, buffers.
        .target(name: "DevmeshIO", dependencies: ["CDevmeshLinux", "DevmeshBytes"], swiftSettings: hotPath),

        // Workers, sessions, bridging, upstream pools, admin, metrics, access log.
        .target(name: "DevmeshProxy",
                dependencies: ["DevmeshIO", "DevmeshHTTP1", "DevmeshHTTP2", "DevmeshRouting", "DevmeshConfig",
                               "DevmeshBytes", "DevmeshGRPC", "DevmeshRoutesAPI"],
                swiftSettings: hotPath),

        // Argument parsing and wiring only.
        .executableTarget(name: "devmesh",
                          dependencies: ["DevmeshProxy", "DevmeshConfig", "DevmeshIO", "DevmeshAgent", "DevmeshRoutesAPI",
                                         "DevmeshGRPC",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),

        // Microbenchmarks of the pure layers, with a malloc-counting interposer (kept out of the
        // XCTest binary: sanitizers interpose malloc too).
        .target(name: "CDevmeshAllocCounter", path: "Benchmarks/CAllocCounter"),
        .executableTarget(name: "devmesh-microbench",
                          dependencies: ["DevmeshHTTP1", "DevmeshRouting", "DevmeshBytes", "CDevmeshAllocCounter"],
                          path: "Benchmarks/Micro", swiftSettings: strict),

        .testTarget(name: "DevmeshBytesTests", dependencies: ["DevmeshBytes"]),
        .testTarget(name: "DevmeshHTTP1Tests", dependencies: ["DevmeshHTTP1", "DevmeshBytes"]),
        .testTarget(name: "DevmeshRoutingTests", dependencies: ["DevmeshRouting", "DevmeshBytes"]),
        .testTarget(name: "DevmeshConfigTests", dependencies: ["DevmeshConfig", "DevmeshRouting"]),
        .testTarget(name: "DevmeshIOTests", dependencies: ["DevmeshIO"]),

        // Control plane. The Routes API messages with their protobuf and JSON codecs: pure.
        .target(name: "DevmeshRoutesAPI", swiftSettings: strict),
        // The agent: model, validation, durable store, rules index, REST + HTTP JSON server.
        .target(name: "DevmeshAgent",
                dependencies: ["DevmeshRoutesAPI", "DevmeshIO", "DevmeshHTTP1", "DevmeshBytes", "DevmeshGRPC"],
                swiftSettings: strict),
        .testTarget(name: "DevmeshRoutesAPITests", dependencies: ["DevmeshRoutesAPI"], exclude: ["Golden"]),
        .testTarget(name: "DevmeshAgentTests", dependencies: ["DevmeshAgent", "DevmeshRoutesAPI", "DevmeshIO"]),
    ]
)

// libFuzzer targets (docs/fuzzing.md): one executable per parser, built for real with
// `swift build -c release --product FuzzX --sanitize=fuzzer --sanitize=address` (scripts/fuzz.sh).
// A plain `swift build` compiles them as no-op executables, so they cannot rot unnoticed.
package.products += [
    "FuzzHTTP1Request", "FuzzHTTP1Response", "FuzzChunkedBody", "FuzzHeadRewriter",
    "FuzzCarriers", "FuzzRouteTable", "FuzzConfigLoader", "FuzzRouteUpdate", "FuzzRoutesJSON",
].map { .executable(name: $0, targets: [$0]) }
package.targets += [
    .target(name: "FuzzSupport", path: "FuzzTesting/Sources/FuzzSupport", swiftSettings: strict),
    .executableTarget(name: "FuzzHTTP1Request", dependencies: ["DevmeshHTTP1", "DevmeshBytes", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzHTTP1Request", swiftSettings: strict),
    .executableTarget(name: "FuzzHTTP1Response", dependencies: ["DevmeshHTTP1", "DevmeshBytes", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzHTTP1Response", swiftSettings: strict),
    .executableTarget(name: "FuzzChunkedBody", dependencies: ["DevmeshHTTP1", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzChunkedBody", swiftSettings: strict),
    .executableTarget(name: "FuzzHeadRewriter", dependencies: ["DevmeshHTTP1", "DevmeshBytes", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzHeadRewriter", swiftSettings: strict),
    .executableTarget(name: "FuzzCarriers", dependencies: ["DevmeshRouting", "DevmeshBytes", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzCarriers", swiftSettings: strict),
    .executableTarget(name: "FuzzRouteTable", dependencies: ["DevmeshRouting", "DevmeshBytes", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzRouteTable", swiftSettings: strict),
    .executableTarget(name: "FuzzConfigLoader", dependencies: ["DevmeshConfig", "DevmeshRouting", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzConfigLoader", swiftSettings: strict),
    .executableTarget(name: "FuzzRouteUpdate", dependencies: ["DevmeshRoutesAPI", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzRouteUpdate", swiftSettings: strict),
    .executableTarget(name: "FuzzRoutesJSON", dependencies: ["DevmeshRoutesAPI", "FuzzSupport"],
                      path: "FuzzTesting/Sources/FuzzRoutesJSON", swiftSettings: strict),
]

// HTTP/2 (h2c) codec. Appended as its own block so the list above stays as the layers read.
// CNghttp2 is the system libnghttp2 (Debian libnghttp2-dev, 1.52); only DevmeshHTTP2 imports it,
// and DevmeshHTTP2's API never shows an nghttp2 type, so the proxy does not see the library.
// DevmeshHTTP2 keeps per-connection state in a final class touched by one thread, like the I/O
// and proxy modules: dynamic exclusivity checks cost 35 % of its CPU per exchange (release,
// in-memory client+server pair, 32 streams: 2.33 -> 1.52 us with them off), hence `hotPath`.
package.targets += [
    // gRPC on our own HTTP/2 stack: the agent's Routes API server, the proxy's route watch, the
    // admin health check. Slow paths (control plane), so plain settings.
    .target(name: "DevmeshGRPC", dependencies: ["DevmeshIO", "DevmeshHTTP2", "DevmeshBytes", "DevmeshRoutesAPI"],
            swiftSettings: strict),
    .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
    .target(name: "DevmeshHTTP2", dependencies: ["CNghttp2", "DevmeshBytes", "DevmeshIO"], swiftSettings: hotPath),
    .testTarget(name: "DevmeshHTTP2Tests", dependencies: ["DevmeshHTTP2", "DevmeshBytes"]),
    // The proxy's own pure pieces (settings mapping and the like); behaviour is tested end to end
    // in Tests/integration against the binary.
    .testTarget(name: "DevmeshProxyTests", dependencies: ["DevmeshProxy", "DevmeshConfig", "DevmeshHTTP2"]),
]

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
/// them off. Static exclusivity checks still run at compile time.
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
        .target(name: "DevmeshBytes", swiftSettings: strict),
        .target(name: "DevmeshHTTP1", dependencies: ["DevmeshBytes"], swiftSettings: strict),
        .target(name: "DevmeshRouting", dependencies: ["DevmeshBytes"], swiftSettings: strict),

        // Configuration: YAML file and quick-start flags -> validated model (slow path, may use Foundation).
        .target(name: "DevmeshConfig",
                dependencies: ["DevmeshRouting", "DevmeshHTTP1", .product(name: "Yams", package: "Yams")],
                swiftSettings: strict),

        // The only layer that makes syscalls: epoll loop, sockets, timers, buffers.
        .target(name: "DevmeshIO", dependencies: ["CDevmeshLinux", "DevmeshBytes"], swiftSettings: hotPath),

        // Workers, sessions, bridging, upstream pools, admin, metrics, access log.
        .target(name: "DevmeshProxy",
                dependencies: ["DevmeshIO", "DevmeshHTTP1", "DevmeshRouting", "DevmeshConfig", "DevmeshBytes"],
                swiftSettings: hotPath),

        // Argument parsing and wiring only.
        .executableTarget(name: "devmesh",
                          dependencies: ["DevmeshProxy", "DevmeshConfig", "DevmeshIO",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),

        // Microbenchmarks of the pure layers, with a malloc-counting interposer (kept out of the
        // XCTest binary: sanitizers interpose malloc too).
        .target(name: "CDevmeshAllocCounter", path: "Benchmarks/CAllocCounter"),
        .executableTarget(name: "devmesh-microbench",
                          dependencies: ["DevmeshHTTP1", "DevmeshRouting", "DevmeshBytes", "CDevmeshAllocCounter"],
                          path: "Benchmarks/Micro", swiftSettings: strict),

        .testTarget(name: "DevmeshHTTP1Tests", dependencies: ["DevmeshHTTP1", "DevmeshBytes"]),
        .testTarget(name: "DevmeshRoutingTests", dependencies: ["DevmeshRouting", "DevmeshBytes"]),
        .testTarget(name: "DevmeshConfigTests", dependencies: ["DevmeshConfig", "DevmeshRouting"]),
        .testTarget(name: "DevmeshIOTests", dependencies: ["DevmeshIO"]),
    ]
)

// libFuzzer targets (docs/fuzzing.md): one executable per parser, built for real with
// `swift build -c release --product FuzzX --sanitize=fuzzer --sanitize=address` (scripts/fuzz.sh).
// A plain `swift build` compiles them as no-op executables, so they cannot rot unnoticed.
package.products += [
    "FuzzHTTP1Request", "FuzzHTTP1Response", "FuzzChunkedBody", "FuzzHeadRewriter",
    "FuzzCarriers", "FuzzRouteTable", "FuzzConfigLoader",
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
]

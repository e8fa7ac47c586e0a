import XCTest
import DevmeshConfig

/// Every example under config/ must load: they are documentation, and documentation that no
/// longer validates is worse than none.
final class ExampleConfigTests: XCTestCase {
    /// `<repo>/config`, found from this file's path (Tests/DevmeshConfigTests/<this file>).
    private static let configDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config")

    private func examples() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: Self.configDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    func testEveryExampleConfigLoads() throws {
        let files = try examples()
        XCTAssertEqual(Set(files.map(\.lastPathComponent)).isSuperset(of: ["gateway.yaml", "minimal.yaml", "sidecar.yaml"]),
                       true, "examples found: \(files.map(\.lastPathComponent))")
        for file in files {
            XCTAssertNoThrow(try ConfigLoader.load(path: file.path), file.lastPathComponent)
        }
    }

    func testExamplesShowWhatTheyClaim() throws {
        let sidecar = try ConfigLoader.load(path: Self.configDirectory.appendingPathComponent("sidecar.yaml").path)
        XCTAssertEqual(sidecar.routing.services.count, 1)
        XCTAssertEqual(sidecar.routing.services[0].hosts, [], "sidecar: one default service")
        XCTAssertEqual(sidecar.routing.services[0].routes.map(\.fallback).sorted { $0.rawValue < $1.rawValue },
                       [.baseline, .fail], "sidecar: two routes, one falling back to the baseline")

        let gateway = try ConfigLoader.load(path: Self.configDirectory.appendingPathComponent("gateway.yaml").path)
        XCTAssertGreaterThan(gateway.routing.services.filter { !$0.hosts.isEmpty }.count, 1,
                             "gateway: several services selected by host")
    }
}

import DevmeshRouting
import Foundation
import XCTest
@testable import DevmeshConfig

/// `handover_socket` (file) and `--handover-socket` (flag): the path a running proxy offers
/// its listeners on for a binary upgrade.
final class HandoverSocketConfigTests: XCTestCase {
    private static let services = "services:\n  - name: app\n    baseline: 127.0.0.1:9001\n"

    func testTheFileAndTheFlagAcceptAnAbsolutePath() throws {
        let longest = "/" + String(repeating: "s", count: HandoverSocketSyntax.maxPathBytes - 1)
        for path in ["/run/devmesh/handover.sock", "/tmp/h", longest] {
            let fromFile = try ConfigLoader.parse(yaml: "handover_socket: \(path)\n" + Self.services, source: "t.yaml")
            XCTAssertEqual(fromFile.handoverSocket, path)
            let fromFlag = try QuickStartOptions(baseline: "127.0.0.1:1", handoverSocket: path).makeConfiguration()
            XCTAssertEqual(fromFlag.handoverSocket, path)
        }
        XCTAssertNil(try ConfigLoader.parse(yaml: Self.services, source: "t.yaml").handoverSocket, "off by default")
    }

    func testTheFlagOverridesTheFile() throws {
        let path = NSTemporaryDirectory() + "devmesh-handover-\(getpid()).yaml"
        try ("handover_socket: /run/a.sock\n" + Self.services).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try QuickStartOptions(configPath: path, handoverSocket: "/run/b.sock").makeConfiguration()
        XCTAssertEqual(configuration.handoverSocket, "/run/b.sock")
    }

    func testBadPathsAreRejectedWithTheReason() {
        let tooLong = "/" + String(repeating: "s", count: HandoverSocketSyntax.maxPathBytes)
        let cases: [(path: String, problem: String)] = [
            ("run/h.sock", "'run/h.sock' is not an absolute path"),
            ("/run/devmesh/", "'/run/devmesh/' names a directory, not a socket file"),
            (tooLong, "the path is 108 bytes; a unix socket path holds at most 107"),
        ]
        for (path, problem) in cases {
            XCTAssertThrowsError(try ConfigLoader.parse(yaml: "handover_socket: \"\(path)\"\n" + Self.services,
                                                        source: "t.yaml"), path) { error in
                XCTAssertTrue("\(error)".contains("t.yaml:1: handover_socket: \(problem)"), "\(error)")
            }
            XCTAssertThrowsError(try QuickStartOptions(baseline: "127.0.0.1:1", handoverSocket: path).makeConfiguration(),
                                 path) { error in
                XCTAssertTrue("\(error)".contains("--handover-socket \"\(path)\": \(problem)"), "\(error)")
            }
        }
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: "handover_socket: [a]\n" + Self.services, source: "t.yaml"))
    }

    func testAChangedPathNeedsARestart() {
        let base = ProxyConfiguration(routing: RoutingSpec(services: []))
        var moved = base
        moved.handoverSocket = "/run/h.sock"
        XCTAssertEqual(restartRequiredChanges(from: base, to: moved), ["handover_socket"])
        XCTAssertEqual(restartRequiredChanges(from: moved, to: moved), [])
    }
}

import DevmeshConfig
import DevmeshRouting
import Foundation
import XCTest

/// Replays the FuzzConfigLoader seed corpus and every committed finding
/// (`FuzzTesting/FailCases/FuzzConfigLoader/`, docs/fuzzing.md) through the loader: each must
/// give a configuration whose routing compiles, or a `ConfigError` with one line per issue.
final class FuzzRegressionTests: XCTestCase {
    func testConfigInputsLoadOrFailWithIssues() throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzTesting")
        var replayed = 0
        for folder in ["Corpus", "FailCases"] {
            let directory = root.appendingPathComponent(folder).appendingPathComponent("FuzzConfigLoader")
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            where !file.hasPrefix(".") {
                let data = try Data(contentsOf: directory.appendingPathComponent(file))
                assertLoadsOrFailsCleanly(String(decoding: data, as: UTF8.self), name: "\(folder)/\(file)")
                replayed += 1
            }
        }
        XCTAssertGreaterThan(replayed, 0, "no committed inputs under \(root.path)")
    }

    // MARK: Findings

    /// FuzzConfigLoader, FailCases/FuzzConfigLoader/crash-674211c7…: a problem that quotes a
    /// value holding a line break (a multi-line plain scalar, or `"\n"` in a quoted one) spread
    /// one issue over several lines, breaking `description`'s one-line-per-issue contract (and
    /// the log line of a refused reload). Control characters are now shown escaped.
    func testAnIssueQuotingMultiLineTextStaysOnOneLine() {
        let yaml = """
            services:
              - name: a
                baseline: h:1
            timeouts:
              request_head: "10s\\nx\\r\\u2028y"
              upstream_connect: 10s
                [ continued plain scalar
            """
        do throws(ConfigError) {
            _ = try ConfigLoader.parse(yaml: yaml, source: "multi\nline.yaml")
            XCTFail("the durations are invalid")
        } catch {
            XCTAssertEqual(error.issues.count, 2, error.description)
            XCTAssertEqual(error.description.split(separator: "\n", omittingEmptySubsequences: false).count, 2,
                           error.description)
            XCTAssertTrue(error.description.contains(#"'10s\nx\r\u{2028}y'"#), error.description)
            XCTAssertTrue(error.description.hasPrefix(#"multi\nline.yaml:5: "#), error.description)
        }
    }

    private func assertLoadsOrFailsCleanly(_ text: String, name: String,
                                           file: StaticString = #filePath, line: UInt = #line) {
        do throws(ConfigError) {
            let configuration = try ConfigLoader.parse(yaml: text, source: "fuzz.yaml")
            XCTAssertNoThrow(try RouteTable.build(configuration.routing, version: 1),
                             "\(name): accepted routing that does not compile", file: file, line: line)
        } catch {
            XCTAssertFalse(error.issues.isEmpty, name, file: file, line: line)
            XCTAssertLessThanOrEqual(error.issues.count, ConfigError.maxReportedIssues, name, file: file, line: line)
            let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(lines.count, error.issues.count + (error.omittedCount > 0 ? 1 : 0),
                           "\(name): one line per issue", file: file, line: line)
        }
    }
}

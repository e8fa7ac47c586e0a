import DevmeshConfig
import DevmeshHTTP2
@testable import DevmeshProxy
import XCTest

/// The `http2:` section reaches every HTTP/2 session as `HTTP2Settings`.
final class HTTP2OptionsMappingTests: XCTestCase {
    func testDefaultsAgree() {
        XCTAssertEqual(HTTP2Settings(HTTP2Options()), HTTP2Settings(),
                       "the config's defaults and the session's defaults must be the same values")
    }

    func testEveryKeyIsCarriedOver() throws {
        let configuration = try ConfigLoader.parse(yaml: """
            http2:
              max_concurrent_streams: 7
              initial_stream_window: 32KiB
              connection_window: 2MiB
              max_frame_size: 32KiB
              max_header_list_bytes: 8KiB
              max_header_count: 50
              stream_send_buffer: 8KiB
              max_continuation_frames: 3
              max_consecutive_empty_frames: 0
              max_outbound_queued_frames: 500
              rapid_reset_streams: 100
              rapid_reset_percent: 25
              rapid_reset_window: 2s
            services:
              - name: web
                baseline: 127.0.0.1:9001
            """, source: "h2.yaml")
        let settings = HTTP2Settings(configuration.http2)
        XCTAssertEqual(settings.maxConcurrentStreams, 7)
        XCTAssertEqual(settings.initialStreamWindowBytes, 32 * 1024)
        XCTAssertEqual(settings.connectionWindowBytes, 2 * 1024 * 1024)
        XCTAssertEqual(settings.maxFrameBytes, 32 * 1024)
        XCTAssertEqual(settings.maxHeaderListBytes, 8 * 1024)
        XCTAssertEqual(settings.maxHeaderFieldCount, 50)
        XCTAssertEqual(settings.streamSendBufferBytes, 8 * 1024)
        XCTAssertEqual(settings.maxContinuationFrames, 3)
        XCTAssertEqual(settings.maxConsecutiveEmptyFrames, 0)
        XCTAssertEqual(settings.maxOutboundQueuedFrames, 500)
        XCTAssertEqual(settings.rapidResetSampleStreams, 100)
        XCTAssertEqual(settings.rapidResetPercent, 25)
        XCTAssertEqual(settings.rapidResetLifetimeMilliseconds, 2000)
        XCTAssertNil(settings.validationProblem())
    }

    /// Whatever the config accepts, a session can be built from (HTTP2Session refuses invalid
    /// settings with a precondition: the bounds must keep the proxy clear of it).
    func testTheAcceptedExtremesAreValidSessionSettings() throws {
        for (label, value) in [("lowest", "min"), ("highest", "max")] {
            func pick(_ low: String, _ high: String) -> String { value == "min" ? low : high }
            let configuration = try ConfigLoader.parse(yaml: """
                http2:
                  max_concurrent_streams: \(pick("1", "10000"))
                  initial_stream_window: \(pick("1KiB", "2147483647"))
                  connection_window: \(pick("65535", "2147483647"))
                  max_frame_size: \(pick("16KiB", "16777215"))
                  max_header_list_bytes: \(pick("1KiB", "1MiB"))
                  max_header_count: \(pick("1", "10000"))
                  stream_send_buffer: \(pick("1KiB", "1MiB"))
                  max_continuation_frames: \(pick("1", "1000"))
                  max_consecutive_empty_frames: \(pick("0", "1000"))
                  max_outbound_queued_frames: \(pick("100", "1000000"))
                  rapid_reset_streams: \(pick("1", "1000000"))
                  rapid_reset_percent: \(pick("1", "100"))
                  rapid_reset_window: \(pick("1ms", "24h"))
                services:
                  - name: web
                    baseline: 127.0.0.1:9001
                """, source: "h2.yaml")
            XCTAssertNil(HTTP2Settings(configuration.http2).validationProblem(), label)
        }
    }

    func testOutOfRangeValuesNameTheKey() {
        let cases: [(String, String)] = [
            ("max_concurrent_streams: 0", "http2.max_concurrent_streams:"),
            ("max_frame_size: 8KiB", "http2.max_frame_size:"),
            ("connection_window: 3GiB", "http2.connection_window:"),
            ("rapid_reset_percent: 101", "http2.rapid_reset_percent:"),
            ("max_concurent_streams: 5", "did you mean max_concurrent_streams?"),
        ]
        for (line, expected) in cases {
            let yaml = "http2:\n  \(line)\nservices:\n  - name: web\n    baseline: 127.0.0.1:9001\n"
            XCTAssertThrowsError(try ConfigLoader.parse(yaml: yaml, source: "h2.yaml"), line) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(line): \(error)")
            }
        }
    }
}

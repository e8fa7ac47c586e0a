import DevmeshHTTP2
import XCTest

final class SettingsTests: XCTestCase {
    func testDefaultsAreValidAndOutOfRangeValuesAreNamed() {
        XCTAssertNil(HTTP2Settings().validationProblem())
        XCTAssertEqual(HTTP2Settings(maxConcurrentStreams: 10).maxNewStreamsPerReceive, 20)
        // (settings, word the problem must name)
        let cases: [(HTTP2Settings, String)] = [
            (HTTP2Settings(maxConcurrentStreams: 0), "maxConcurrentStreams"),
            (HTTP2Settings(initialStreamWindowBytes: Int(Int32.max) + 1), "initialStreamWindowBytes"),
            (HTTP2Settings(connectionWindowBytes: 1000), "connectionWindowBytes"),
            (HTTP2Settings(maxFrameBytes: 16_383), "maxFrameBytes"),
            (HTTP2Settings(maxFrameBytes: 16_777_216), "maxFrameBytes"),
            (HTTP2Settings(maxHeaderListBytes: 100), "maxHeaderListBytes"),
            (HTTP2Settings(maxHeaderFieldCount: 0), "maxHeaderFieldCount"),
            (HTTP2Settings(streamSendBufferBytes: 512), "streamSendBufferBytes"),
            (HTTP2Settings(maxContinuationFrames: 0), "maxContinuationFrames"),
            (HTTP2Settings(maxConcurrentStreams: 100, maxNewStreamsPerReceive: 50), "maxNewStreamsPerReceive"),
            (HTTP2Settings(rapidResetPercent: 0), "rapid-reset"),
        ]
        for (settings, field) in cases {
            let problem = settings.validationProblem()
            XCTAssertTrue(problem?.contains(field) ?? false, "\(field): \(problem ?? "nil")")
        }
    }
}

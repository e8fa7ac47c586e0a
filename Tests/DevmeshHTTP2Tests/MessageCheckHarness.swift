@testable import DevmeshHTTP2
import XCTest

/// Runs one scripted exchange twice, against a session that checks RFC 9113 §8 itself and
/// against one where libnghttp2 1.52 checks (its HTTP messaging on, the way the proxy ran
/// before), and reports what each let through: the rules must agree byte for byte with the
/// library they replace.

/// A header field as raw bytes (any byte, NUL and obs-text included).
struct RawField {
    var name: [UInt8]
    var value: [UInt8]

    init(_ name: String, _ value: String) {
        self.name = Array(name.utf8)
        self.value = Array(value.utf8)
    }

    init(_ name: [UInt8], _ value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

extension RawFrame {
    /// A header block of literals without indexing, new names (RFC 7541 §6.2.2), no Huffman.
    static func block(_ fields: [RawField]) -> [UInt8] {
        var block: [UInt8] = []
        for field in fields {
            block.append(0x00)
            block += integer(field.name.count, prefixBits: 7, firstByte: 0)
            block += field.name
            block += integer(field.value.count, prefixBits: 7, firstByte: 0)
            block += field.value
        }
        return block
    }

    static func headers(stream: UInt32, _ fields: [RawField], endStream: Bool) -> [UInt8] {
        frame(headers, flags: endHeaders | (endStream ? RawFrame.endStream : 0), stream: stream, block(fields))
    }

    static func dataFrame(stream: UInt32, count: Int, endStream: Bool) -> [UInt8] {
        frame(data, flags: endStream ? RawFrame.endStream : 0, stream: stream, [UInt8](repeating: 0x61, count: count))
    }

    /// The server side of a connection start: its SETTINGS and the ACK of the client's.
    static var serverStart: [UInt8] {
        frame(settings) + frame(settings, flags: ack)
    }
}

/// What a session made of a script: everything the proxy or the peer could see.
struct Observation: Equatable, CustomStringConvertible {
    var events: [Event]
    /// RST_STREAM error codes by stream, in the order sent.
    var resets: [UInt32: [UInt32]]
    var goAway: UInt32?
    var counters: HTTP2Counters

    var description: String {
        "events \(events), resets \(resets), goAway \(goAway.map(String.init) ?? "none"), counters \(counters)"
    }
}

/// Which side receives the scripted message.
enum ScriptRole {
    /// A server session receives the bytes after the client preface.
    case server
    /// A client session sends `request`, then receives the bytes after the server's SETTINGS.
    case client(request: [Field], endStream: Bool)
}

func observe(_ role: ScriptRole, _ bytes: [UInt8], library: Bool) -> Observation {
    var isClient = false
    if case .client = role { isClient = true }
    let session = HTTP2Session(role: isClient ? .client : .server, settings: HTTP2Settings(), bufferPool: nil,
                               messageRulesByLibrary: library)
    let recorder = Recorder()
    var output: [UInt8] = []
    session.delegate = recorder
    func flush() {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while session.wantsWrite {
            let written = buffer.withUnsafeMutableBytes { session.produce(into: $0) }
            if written == 0 { break }
            output += buffer[0..<written]
        }
    }
    switch role {
    case .server:
        _ = RawFrame.clientStart.withUnsafeBytes { session.receive($0, now: 1_000) }
    case .client(let request, let endStream):
        _ = withHeaderFields(request) { session.submitRequest(headers: $0, endStream: endStream) }
        flush()
        _ = RawFrame.serverStart.withUnsafeBytes { session.receive($0, now: 1_000) }
    }
    _ = bytes.withUnsafeBytes { session.receive($0, now: 1_000) }
    flush()
    let frames = ParsedFrame.parse(output, skipPreface: isClient)
    var resets: [UInt32: [UInt32]] = [:]
    for frame in frames where frame.type == RawFrame.rstStream {
        resets[frame.stream, default: []].append(frame.errorCode ?? 0)
    }
    return Observation(events: recorder.events, resets: resets,
                       goAway: frames.last { $0.type == RawFrame.goAway }?.errorCode, counters: session.counters)
}

/// The outcome a row expects for stream 1.
enum Expected: Equatable {
    /// Delivered to the delegate, not reset.
    case delivered
    /// Reset with PROTOCOL_ERROR and never delivered; counted as an invalid frame.
    case malformed
    /// As `malformed`, for an invalid byte in a field: also counted as an invalid header field.
    case invalidField
    /// The head was delivered, then the stream was reset with PROTOCOL_ERROR (a body or an end
    /// that breaks the rules); its end is never delivered.
    case resetAfterHead
}

/// Asserts that the session's own checks give `expected` for stream 1, and the same result as
/// nghttp2's.
func assertRule(_ name: String, _ role: ScriptRole, _ bytes: [UInt8], _ expected: Expected,
                file: StaticString = #filePath, line: UInt = #line) {
    let ours = observe(role, bytes, library: false)
    let library = observe(role, bytes, library: true)
    XCTAssertEqual(ours, library, "\(name): differs from nghttp2's checks", file: file, line: line)
    let stream = HTTP2StreamID(1)
    let delivered = ours.events.contains { if case let .headers(id, kind, _, _) = $0 { id == stream && kind != .trailers } else { false } }
    let reset = ours.resets[1] == [HTTP2ErrorCode.protocolError.rawValue]
    switch expected {
    case .delivered:
        XCTAssertTrue(delivered, "\(name): not delivered (\(ours))", file: file, line: line)
        XCTAssertNil(ours.resets[1], "\(name): reset (\(ours))", file: file, line: line)
    case .malformed, .invalidField:
        XCTAssertFalse(delivered, "\(name): delivered (\(ours))", file: file, line: line)
        XCTAssertTrue(reset, "\(name): not reset with PROTOCOL_ERROR (\(ours))", file: file, line: line)
        XCTAssertEqual(ours.counters.invalidFrames, 1, "\(name)", file: file, line: line)
        XCTAssertEqual(ours.counters.invalidHeaderFields, expected == .invalidField ? 1 : 0, "\(name)",
                       file: file, line: line)
    case .resetAfterHead:
        XCTAssertTrue(delivered, "\(name): head not delivered (\(ours))", file: file, line: line)
        XCTAssertTrue(reset, "\(name): not reset with PROTOCOL_ERROR (\(ours))", file: file, line: line)
        XCTAssertEqual(ours.events.last, .closed(stream, .resetLocally(.protocolError)), "\(name)",
                       file: file, line: line)
        let ended = ours.events.contains {
            switch $0 {
            case let .data(id, _, endStream), let .headers(id, _, _, endStream): id == stream && endStream
            default: false
            }
        }
        XCTAssertFalse(ended, "\(name): the end was delivered (\(ours))", file: file, line: line)
    }
    XCTAssertNil(ours.goAway, "\(name): a stream error, not a connection error", file: file, line: line)
}

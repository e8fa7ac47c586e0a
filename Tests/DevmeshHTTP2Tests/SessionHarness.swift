import DevmeshBytes
import DevmeshHTTP2
import XCTest

/// One event a session reported, with its bytes copied so tests can look at them later.
enum Event: Equatable {
    case headers(HTTP2StreamID, HTTP2HeaderBlockKind, [Field], endStream: Bool)
    case data(HTTP2StreamID, [UInt8], endStream: Bool)
    case closed(HTTP2StreamID, HTTP2StreamCloseReason)
    case goAway(HTTP2StreamID, HTTP2ErrorCode)
    case canSendMore(HTTP2StreamID)
}

struct Field: Equatable, CustomStringConvertible {
    var name: String
    var value: String
    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    var description: String { "\(name): \(value)" }
}

/// A delegate that records every event and lets a test react to them.
final class Recorder: HTTP2SessionDelegate {
    var events: [Event] = []
    /// Consume received DATA as it arrives (a fast reader). Off: the test consumes by hand.
    var consumeOnArrival = true
    var onHeaders: ((HTTP2Session, HTTP2StreamID, HTTP2HeaderBlockKind, [Field], Bool) -> Void)?
    var onData: ((HTTP2Session, HTTP2StreamID, [UInt8], Bool) -> Void)?
    var onClose: ((HTTP2Session, HTTP2StreamID, HTTP2StreamCloseReason) -> Void)?
    var onCanSendMore: ((HTTP2Session, HTTP2StreamID) -> Void)?

    func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                      kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool) {
        let copied = fields.map { Field($0.name.debugString, $0.value.debugString) }
        events.append(.headers(stream, kind, copied, endStream: endStream))
        onHeaders?(session, stream, kind, copied, endStream)
    }

    func http2Session(_ session: HTTP2Session, didReceiveData bytes: UnsafeRawBufferPointer,
                      stream: HTTP2StreamID, endStream: Bool) {
        let copied = Array(bytes)
        events.append(.data(stream, copied, endStream: endStream))
        if consumeOnArrival { session.consume(stream, byteCount: bytes.count) }
        onData?(session, stream, copied, endStream)
    }

    func http2Session(_ session: HTTP2Session, streamDidClose stream: HTTP2StreamID, reason: HTTP2StreamCloseReason) {
        events.append(.closed(stream, reason))
        onClose?(session, stream, reason)
    }

    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode) {
        events.append(.goAway(lastStreamID, errorCode))
    }

    func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID) {
        events.append(.canSendMore(stream))
        onCanSendMore?(session, stream)
    }

    // MARK: Queries

    func headers(of stream: HTTP2StreamID, kind: HTTP2HeaderBlockKind) -> [Field]? {
        for case let .headers(id, blockKind, fields, _) in events where id == stream && blockKind == kind {
            return fields
        }
        return nil
    }

    func body(of stream: HTTP2StreamID) -> [UInt8] {
        var body: [UInt8] = []
        for case let .data(id, bytes, _) in events where id == stream { body += bytes }
        return body
    }

    func ended(_ stream: HTTP2StreamID) -> Bool {
        events.contains { event in
            switch event {
            case let .data(id, _, endStream), let .headers(id, _, _, endStream): id == stream && endStream
            default: false
            }
        }
    }

    func closeReason(of stream: HTTP2StreamID) -> HTTP2StreamCloseReason? {
        for case let .closed(id, reason) in events where id == stream { return reason }
        return nil
    }

    var openedStreams: [HTTP2StreamID] {
        events.compactMap { if case let .headers(id, .request, _, _) = $0 { id } else { nil } }
    }
}

/// A server and a client session joined in memory. Bytes go through `produce` into an output
/// buffer of `outputSize` bytes (small sizes exercise the left-over path) and are handed to the
/// other side's `receive` in pieces of `splitSize` bytes (frames cut anywhere).
final class SessionPair {
    let server: HTTP2Session
    let client: HTTP2Session
    let serverEvents = Recorder()
    let clientEvents = Recorder()
    var outputSize: Int
    var splitSize: Int
    var now: Int64 = 1_000
    var serverOutcome = HTTP2ReceiveOutcome.processed
    var clientOutcome = HTTP2ReceiveOutcome.processed
    /// Everything each side produced, for frame-level assertions.
    var serverWire: [UInt8] = []
    var clientWire: [UInt8] = []

    convenience init(serverSettings: HTTP2Settings = HTTP2Settings(), clientSettings: HTTP2Settings = HTTP2Settings(),
                     outputSize: Int = 16 * 1024, splitSize: Int = .max) {
        self.init(server: HTTP2Session(role: .server, settings: serverSettings),
                  client: HTTP2Session(role: .client, settings: clientSettings),
                  outputSize: outputSize, splitSize: splitSize)
    }

    init(server: HTTP2Session, client: HTTP2Session, outputSize: Int = 16 * 1024, splitSize: Int = .max) {
        self.server = server
        self.client = client
        server.delegate = serverEvents
        client.delegate = clientEvents
        self.outputSize = outputSize
        self.splitSize = splitSize
    }

    /// Moves bytes both ways until neither side has anything left to send (bounded, so a bug
    /// that keeps producing fails the test instead of hanging it).
    func pump(file: StaticString = #filePath, line: UInt = #line) {
        for _ in 0..<10_000 {
            let fromClient = drain(client)
            clientWire += fromClient
            deliver(fromClient, to: server, outcome: &serverOutcome)
            let fromServer = drain(server)
            serverWire += fromServer
            deliver(fromServer, to: client, outcome: &clientOutcome)
            if fromClient.isEmpty && fromServer.isEmpty { return }
        }
        XCTFail("sessions kept producing", file: file, line: line)
    }

    /// What `session` produces now, through a buffer of `outputSize` bytes.
    func drain(_ session: HTTP2Session) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: outputSize)
        while session.wantsWrite {
            let written = buffer.withUnsafeMutableBytes { session.produce(into: $0) }
            if written == 0 { break }
            out += buffer[0..<written]
        }
        return out
    }

    func deliver(_ bytes: [UInt8], to session: HTTP2Session, outcome: inout HTTP2ReceiveOutcome) {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + max(1, splitSize))
            let result = bytes[offset..<end].withUnsafeBytes { session.receive($0, now: now) }
            if case .failed = result, case .processed = outcome { outcome = result }
            offset = end
        }
    }

    /// Opens a request on the client (asserting it was allowed).
    @discardableResult
    func request(_ fields: [Field], endStream: Bool, file: StaticString = #filePath, line: UInt = #line) -> HTTP2StreamID {
        let id = withHeaderFields(fields) { client.submitRequest(headers: $0, endStream: endStream) }
        XCTAssertNotNil(id, "submitRequest refused", file: file, line: line)
        return id ?? HTTP2StreamID(0)
    }
}

/// Runs `body` with `fields` laid out as `HeaderField`s (valid during the call).
func withHeaderFields<R>(_ fields: [Field], _ body: (UnsafeBufferPointer<HeaderField>) -> R) -> R {
    var storage: [UInt8] = []
    var ranges: [(Range<Int>, Range<Int>)] = []
    for field in fields {
        let nameStart = storage.count
        storage += Array(field.name.utf8)
        let valueStart = storage.count
        storage += Array(field.value.utf8)
        ranges.append((nameStart..<valueStart, valueStart..<storage.count))
    }
    return storage.withUnsafeBytes { raw in
        let list = ranges.map { name, value in
            HeaderField(name: UnsafeRawBufferPointer(rebasing: raw[name]), value: UnsafeRawBufferPointer(rebasing: raw[value]))
        }
        return list.withUnsafeBufferPointer(body)
    }
}

extension HTTP2Session {
    func respond(_ stream: HTTP2StreamID, _ fields: [Field], endStream: Bool) {
        let accepted = withHeaderFields(fields) { submitResponse(stream, headers: $0, endStream: endStream) }
        XCTAssertTrue(accepted, "submitResponse refused for stream \(stream)")
    }

    func trailers(_ stream: HTTP2StreamID, _ fields: [Field]) {
        let accepted = withHeaderFields(fields) { submitTrailers(stream, headers: $0) }
        XCTAssertTrue(accepted, "submitTrailers refused for stream \(stream)")
    }

    func send(_ stream: HTTP2StreamID, _ bytes: [UInt8], endStream: Bool) -> HTTP2SendResult {
        bytes.withUnsafeBytes { submitData(stream, $0, endStream: endStream) }
    }
}

func getRequest(_ path: String = "/", extra: [Field] = []) -> [Field] {
    [Field(":method", "GET"), Field(":scheme", "http"), Field(":authority", "svc.local"), Field(":path", path)] + extra
}

func postRequest(_ path: String = "/upload", extra: [Field] = []) -> [Field] {
    [Field(":method", "POST"), Field(":scheme", "http"), Field(":authority", "svc.local"), Field(":path", path)] + extra
}

/// Deterministic bytes whose content depends on `seed` and position (so a lost or reordered
/// chunk shows).
func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ ($0 >> 8)) }
}

/// Compares byte strings without printing megabytes on failure: the counts and the first
/// difference.
func assertBytes(_ actual: [UInt8], _ expected: [UInt8], _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual != expected else { return }
    let firstDifference = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    XCTFail("bytes differ: \(actual.count) vs \(expected.count) expected, first difference at "
        + "\(firstDifference.map(String.init) ?? "the end") \(message)", file: file, line: line)
}

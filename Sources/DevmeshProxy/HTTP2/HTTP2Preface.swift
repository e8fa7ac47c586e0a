/// The HTTP/2 client connection preface (RFC 9113 §3.4), which starts every h2c connection with
/// prior knowledge. It begins like an HTTP/1.1 request line (`PRI * HTTP/2.0`) but no HTTP/1.1
/// client ever sends it, so the first bytes of a connection decide its protocol.
enum HTTP2Preface {
    static let bytes: StaticString = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    enum Match: Equatable {
        case complete
        /// What arrived so far is a prefix of the preface: wait for more.
        case prefix
        case mismatch
    }

    static func match(_ received: UnsafeRawBufferPointer) -> Match {
        let length = bytes.utf8CodeUnitCount
        let compared = min(received.count, length)
        for index in 0..<compared where received[index] != bytes.utf8Start[index] {
            return .mismatch
        }
        return received.count >= length ? .complete : .prefix
    }
}

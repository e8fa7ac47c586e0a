import DevmeshBytes

/// What the Transfer-Encoding lines of one message say, accumulated line by line (several lines
/// form one list, RFC 9110 §5.3) and judged once the head is complete.
///
/// RFC 9112 §6.1 and §6.3 rules applied by `validate()`, first failure wins:
/// - an empty or malformed list, or parameters on `chunked` (it takes none) -> 400;
/// - `chunked` more than once ("A sender MUST NOT apply the chunked transfer coding more than
///   once") -> 400;
/// - `chunked` not last: the body length cannot be determined reliably -> 400;
/// - any other coding (gzip, deflate, ...): we do not decode transfer codings -> 501.
/// A response gets the same verdicts (the proxy turns each into 502): only exactly `chunked`
/// passes.
struct TransferCodings {
    var present = false
    var codingCount = 0
    var chunkedCount = 0
    var lastIsChunked = false
    var hasUnsupportedCoding = false
    var isMalformed = false

    init() {}

    /// Adds the codings listed on one Transfer-Encoding line.
    mutating func add(_ value: UnsafeRawBufferPointer) {
        present = true
        for element in ListElements(value) {
            codingCount += 1
            // transfer-coding = token *( OWS ";" OWS transfer-parameter )
            let name = element.leadingToken
            guard !name.isEmpty else {
                isMalformed = true
                lastIsChunked = false
                continue
            }
            if name.count < element.count {
                var next = name.count
                while next < element.count, ASCII.isOWS(element[next]) { next += 1 }
                if next == element.count || element[next] != Byte.semicolon { isMalformed = true }
            }
            if ASCII.equalsCaseInsensitive(name, lowercased: "chunked") {
                chunkedCount += 1
                lastIsChunked = true
                if name.count < element.count { isMalformed = true }
            } else {
                lastIsChunked = false
                hasUnsupportedCoding = true
            }
        }
    }

    /// Throws the verdict for a message that carried Transfer-Encoding; does nothing otherwise.
    func validate() throws(HTTP1Error) {
        guard present else { return }
        if isMalformed || codingCount == 0 { throw .invalidTransferEncoding }
        if chunkedCount > 1 { throw .chunkedTwice }
        if !lastIsChunked { throw .chunkedNotFinal }
        if hasUnsupportedCoding { throw .unsupportedTransferCoding }
    }
}

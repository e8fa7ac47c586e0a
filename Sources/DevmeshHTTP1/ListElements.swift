import DevmeshBytes

/// The elements of a comma-separated field value (RFC 9110 §5.6.1 `#rule`), each trimmed of
/// OWS, as views into the value. Empty elements are skipped, as §5.6.1 asks recipients to do
/// ("a recipient MUST parse and ignore a reasonable number of empty list elements").
///
/// Used for Connection, Transfer-Encoding, Upgrade and Expect. Quoted strings are not special:
/// none of those fields has a legitimate comma inside quotes.
struct ListElements: IteratorProtocol, Sequence {
    let list: UnsafeRawBufferPointer
    var position = 0

    init(_ list: UnsafeRawBufferPointer) {
        self.list = list
    }

    mutating func next() -> UnsafeRawBufferPointer? {
        while position < list.count {
            var start = position
            var end = start
            while end < list.count, list[end] != Byte.comma {
                end += 1
            }
            position = end + 1
            while start < end, ASCII.isOWS(list[start]) { start += 1 }
            while end > start, ASCII.isOWS(list[end - 1]) { end -= 1 }
            if start < end {
                return UnsafeRawBufferPointer(rebasing: list[start..<end])
            }
        }
        return nil
    }
}

extension UnsafeRawBufferPointer {
    /// The leading run of `tchar` bytes: the name part of a list element such as `gzip;q=1`
    /// or `websocket/13`.
    var leadingToken: UnsafeRawBufferPointer {
        var end = 0
        while end < count, ASCII.isTokenChar(self[end]) { end += 1 }
        return UnsafeRawBufferPointer(rebasing: self[0..<end])
    }
}

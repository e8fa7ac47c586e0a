/// Finds where a head ends (the empty line after the last field) in the bytes buffered so far.
///
/// Parsing proper only starts once the whole head is buffered, so an incomplete head costs only
/// this scan, and the scan resumes where it stopped (`hint`): a client that drips one byte at a
/// time costs O(n) in total, not O(n^2).
///
/// The scan also enforces two rules that must hold before a head can be found at all:
/// - RFC 9112 §2.2: every LF must follow a CR. We accept CRLF only, so a bare LF is refused at
///   once (otherwise a head using bare LFs would never end and would wait for the size limit).
/// - The size limit: once `limit` bytes are buffered without a complete head, the head is too
///   large (431), whatever comes next.
enum HeadEndScanner {
    enum Outcome {
        /// The head ends just before `end` (the offset past the final CRLF).
        case found(end: Int)
        case incomplete
        case invalid(HTTP1Error)
    }

    /// - Parameters:
    ///   - firstLine: offset of the start line (after any empty lines skipped before a request line).
    ///   - limit: the largest head, in bytes from offset 0, that may still be accepted.
    ///   - hint: where the previous scan of this same head stopped (0 for a new head); updated.
    static func scan(_ bytes: RawBytes, firstLine: Int, limit: Int, hint: inout Int) -> Outcome {
        let end = min(bytes.count, limit)
        var offset = max(hint, firstLine)
        while offset < end {
            guard let lineFeed = bytes.firstLineFeed(from: offset, to: end) else { break }
            // SAFETY of the look-backs: each index is compared with firstLine (>= 0) before it is
            // read, and lineFeed < end <= count.
            guard lineFeed > firstLine, bytes[lineFeed - 1] == Byte.cr else {
                return .invalid(.bareLF)
            }
            // An LF ends the head when the line it ends is empty (CR LF CR LF) and is not the
            // start line: a request's empty lines were skipped, a response's empty status line is
            // found here and refused by the status-line parser.
            if lineFeed - 3 >= firstLine, bytes[lineFeed - 2] == Byte.lf, bytes[lineFeed - 3] == Byte.cr {
                return .found(end: lineFeed + 1)
            }
            offset = lineFeed + 1
        }
        hint = end
        return bytes.count >= limit ? .invalid(.headTooLarge) : .incomplete
    }
}

extension HeadEndScanner {
    /// The frame both head parsers share: clear the storage, skip the empty lines RFC 9112 §2.2
    /// lets a server ignore before a request line, scan for the end, and run `parseHead` once,
    /// on a complete head. `hint` is reset to 0 on every final result, ready for the next message.
    static func parseOnceComplete<Head>(
        _ buffer: UnsafeRawBufferPointer, storage: HeaderStorage, limits: HTTP1Limits, skippingEmptyLines: Bool,
        hint: inout Int,
        parseHead: (_ bytes: RawBytes, _ firstLine: Int, _ headEnd: Int) throws(HTTP1Error) -> Head
    ) -> ParseStatus<Head> {
        storage.count = 0
        guard let bytes = RawBytes(buffer) else { return .incomplete }
        precondition(storage.capacity >= limits.maxHeaderCount, "HeaderStorage smaller than maxHeaderCount")

        // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD
        // ignore at least one empty line (CRLF) received prior to the request-line."
        var firstLine = 0
        while skippingEmptyLines, firstLine + 1 < bytes.count, bytes[firstLine] == Byte.cr,
              bytes[firstLine + 1] == Byte.lf {
            firstLine += 2
        }
        // Line offsets are stored as UInt32.
        let headLimit = min(limits.maxHeadBytes, Int(UInt32.max))
        switch scan(bytes, firstLine: firstLine, limit: headLimit, hint: &hint) {
        case .incomplete:
            return .incomplete
        case .invalid(let error):
            hint = 0
            return .invalid(error)
        case .found(let headEnd):
            hint = 0
            do {
                return .complete(try parseHead(bytes, firstLine, headEnd))
            } catch {
                storage.count = 0
                return .invalid(error)
            }
        }
    }
}

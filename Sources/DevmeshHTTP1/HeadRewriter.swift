/// Prepares a parsed head for forwarding, in place: drops the hop-by-hop lines and optionally
/// adds one line (`connection: close\r\n`, say) just before the final CRLF, without copying the
/// head to another buffer and without moving the bytes that follow it (the start of the body
/// or of the next pipelined message).
///
/// How: the lines that stay form runs ("segments") between removed lines. The final CRLF never
/// moves, so every segment shifts by (bytes removed after it) - (bytes inserted): the segments
/// after the last removed line move back into the headroom by the size of the new line, earlier
/// ones move forward over the removed lines. Moved segments land edge to edge, so a segment's
/// destination can only overlap the source of its neighbour in the direction it moves: moving
/// the forward-shifting ones last-first and the backward-shifting ones first-last never
/// overwrites a byte before it has been moved. Each byte moves at most once: O(head length).
///
/// The views recorded in `HeaderStorage` point at the old positions: read them (routing) first.
public enum HeadRewriter {
    public enum Outcome: Sendable, Equatable {
        /// The forwarded head is `buffer[start..<headEnd]`, where headEnd = base + headLength
        /// is unchanged.
        case rewritten(start: Int)
        /// Inserting needs `missing` more bytes of headroom before the head; nothing was moved.
        case headroomTooSmall(missing: Int)
    }

    /// - Parameters:
    ///   - buffer: the whole read buffer; the bytes before `base` are free headroom.
    ///   - base: offset in `buffer` where the parsed bytes began (`HeaderLine` offsets and
    ///     `headStart` are relative to it).
    ///   - headStart: offset of the start line (`RequestHead.startLineOffset`, 0 for a response).
    ///   - headLength: `RequestHead.headLength` / `ResponseHead.headLength`.
    ///   - lines: the storage's lines for this head; those with `hopByHop` are removed.
    ///   - extraLine: one complete field line including its CRLF, or an empty buffer.
    public static func prepareForwarding(in buffer: UnsafeMutableRawBufferPointer, base: Int, headStart: Int,
                                         headLength: Int, lines: UnsafeBufferPointer<HeaderLine>,
                                         inserting extraLine: UnsafeRawBufferPointer) -> Outcome {
        let start = base + headStart
        let finalCRLF = base + headLength - 2
        precondition(base >= 0 && headStart >= 0 && start <= finalCRLF && base + headLength <= buffer.count,
                     "head outside the buffer")
        var removed = 0
        for line in lines where line.hopByHop {
            precondition(base + Int(line.lineStart) >= start && base + line.lineEnd <= finalCRLF,
                         "header line outside the head")
            removed += Int(line.lineLength)
        }
        let inserted = extraLine.count
        let newStart = start + removed - inserted
        guard newStart >= 0 else { return .headroomTooSmall(missing: -newStart) }
        guard removed > 0 || inserted > 0 else { return .rewritten(start: start) }

        // Forward-shifting segments, last first. Walking back, `removedAfter` only grows, so once
        // a segment's shift is positive every earlier one's is too.
        var segmentEnd = finalCRLF
        var removedAfter = 0
        for line in lines.reversed() where line.hopByHop {
            let lineStart = base + Int(line.lineStart)
            let lineEnd = base + line.lineEnd
            move(buffer, from: lineEnd, to: segmentEnd, by: removedAfter - inserted, ifForward: true)
            removedAfter += Int(line.lineLength)
            segmentEnd = lineStart
        }
        move(buffer, from: start, to: segmentEnd, by: removedAfter - inserted, ifForward: true)

        // Backward-shifting segments, first first.
        var segmentStart = start
        var removedFromHere = removed
        for line in lines where line.hopByHop {
            move(buffer, from: segmentStart, to: base + Int(line.lineStart), by: removedFromHere - inserted,
                 ifForward: false)
            removedFromHere -= Int(line.lineLength)
            segmentStart = base + line.lineEnd
        }
        move(buffer, from: segmentStart, to: finalCRLF, by: -inserted, ifForward: false)

        if inserted > 0 {
            // SAFETY: finalCRLF - inserted >= newStart >= 0 and finalCRLF <= buffer.count.
            (buffer.baseAddress! + (finalCRLF - inserted)).copyMemory(from: extraLine.baseAddress!, byteCount: inserted)
        }
        return .rewritten(start: newStart)
    }

    /// Moves `buffer[from..<to]` by `shift` bytes when the shift has the wanted direction.
    private static func move(_ buffer: UnsafeMutableRawBufferPointer, from: Int, to: Int, by shift: Int,
                             ifForward forward: Bool) {
        guard to > from, forward ? shift > 0 : shift < 0 else { return }
        // SAFETY: the source lies inside the head (checked on entry). The destination of a
        // forward move ends at most at the final CRLF (segments land edge to edge before it);
        // a backward move starts at or after `newStart`, which was checked to be >= 0.
        // copyMemory has memmove semantics, so overlapping ranges are fine.
        let base = buffer.baseAddress!
        (base + from + shift).copyMemory(from: base + from, byteCount: to - from)
    }
}

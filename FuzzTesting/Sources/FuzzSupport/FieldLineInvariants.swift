/// Checks shared by every parsed head (request or response) on its recorded field lines.
public enum FieldLineInvariants {
    /// - Parameters:
    ///   - firstFieldLine: offset where the first field line must start (after the start line).
    ///   - headLength: offset just past the final CRLF.
    public static func check(_ fields: [FieldSummary], buffer: UnsafeRawBufferPointer, firstFieldLine: Int,
                             headLength: Int, maxCount: Int) {
        fuzzCheck(headLength >= 4 && headLength <= buffer.count, "head length \(headLength) outside the input")
        fuzzCheck(buffer[headLength - 2] == 0x0D && buffer[headLength - 1] == 0x0A, "head does not end in CRLF")
        fuzzCheck(buffer[headLength - 4] == 0x0D && buffer[headLength - 3] == 0x0A,
                  "head does not end in an empty line")
        fuzzCheck(fields.count <= maxCount, "\(fields.count) fields, limit \(maxCount)")
        var expectedStart = firstFieldLine
        for (index, field) in fields.enumerated() {
            // Lines are recorded in order, edge to edge, up to the final CRLF.
            fuzzCheck(field.lineStart == expectedStart, "line \(index) starts at \(field.lineStart), expected \(expectedStart)")
            let lineEnd = field.lineStart + field.lineLength
            fuzzCheck(lineEnd <= headLength - 2, "line \(index) ends at \(lineEnd), past the head's final CRLF")
            fuzzCheck(buffer[lineEnd - 2] == 0x0D && buffer[lineEnd - 1] == 0x0A, "line \(index) does not end in CRLF")
            fuzzCheck(field.nameStart == field.lineStart, "line \(index): name does not start the line")
            fuzzCheck(field.nameEnd > field.nameStart, "line \(index): empty name")
            for offset in field.nameStart..<field.nameEnd {
                fuzzCheck(isTokenByte(buffer[offset]), "line \(index): name byte \(buffer[offset]) is not a tchar")
            }
            fuzzCheck(buffer[field.nameEnd] == 0x3A, "line \(index): name not followed by ':'")
            fuzzCheck(field.valueStart > field.nameEnd && field.valueEnd <= lineEnd - 2
                      && field.valueStart <= field.valueEnd, "line \(index): value outside its line")
            for offset in field.nameEnd + 1..<field.valueStart {
                fuzzCheck(buffer[offset] == 0x20 || buffer[offset] == 0x09, "line \(index): skipped a non-OWS byte")
            }
            for offset in field.valueEnd..<lineEnd - 2 {
                fuzzCheck(buffer[offset] == 0x20 || buffer[offset] == 0x09, "line \(index): cut a non-OWS byte")
            }
            if field.valueEnd > field.valueStart {
                let first = buffer[field.valueStart]
                let last = buffer[field.valueEnd - 1]
                fuzzCheck(first != 0x20 && first != 0x09 && last != 0x20 && last != 0x09,
                          "line \(index): value keeps edge whitespace")
            }
            for offset in field.valueStart..<field.valueEnd {
                let byte = buffer[offset]
                fuzzCheck(byte == 0x09 || (byte >= 0x20 && byte != 0x7F),
                          "line \(index): control byte \(byte) in a value")
            }
            expectedStart = lineEnd
        }
        fuzzCheck(expectedStart == headLength - 2, "lines end at \(expectedStart), the final CRLF is at \(headLength - 2)")
    }

    /// RFC 9110 §5.6.2 tchar, spelled out independently of the code under test.
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// ASCII case-insensitive comparison of a view with a lower-case name.
    public static func nameIs(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercased: String) -> Bool {
        let expected = Array(lowercased.utf8)
        guard range.count == expected.count else { return false }
        return zip(range, expected).allSatisfy { offset, byte in
            let actual = buffer[offset]
            return (actual >= 0x41 && actual <= 0x5A ? actual | 0x20 : actual) == byte
        }
    }
}

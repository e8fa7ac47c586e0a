import DevmeshHTTP1
import XCTest

/// The result of one head parse, reduced to something comparable across feeds.
enum HeadResult<Summary: Equatable>: Equatable {
    case incomplete
    case complete(Summary)
    case invalid(HTTP1Error)
}

/// Feeds one head to a parser in every way the tests require and checks that they agree:
/// - whole;
/// - byte by byte, growing the buffer one byte per call with the hint carried over;
/// - split in two at every position, with the hint carried from the first call to the second.
/// Every input sits right before a guard page. Before the final result, a call may only say
/// `.incomplete`, or (for an input that is invalid) report the very same error early.
/// Returns the result of the whole feed.
@discardableResult
func feedHeadAllWays<Summary: Equatable>(
    _ input: [UInt8], memory: GuardedMemory, row: String,
    file: StaticString = #filePath, line: UInt = #line,
    parse: (UnsafeRawBufferPointer, inout Int) -> HeadResult<Summary>
) -> HeadResult<Summary> {
    var hint = 0
    let whole = memory.withGuarded(input) { parse($0, &hint) }
    XCTAssertNotEqual(whole, .incomplete, "\(row): whole input is still incomplete", file: file, line: line)

    func checkEarly(_ result: HeadResult<Summary>, _ how: String) -> Bool {
        switch result {
        case .incomplete: return true
        case .invalid where result == whole: return false
        default:
            XCTFail("\(row): \(how) gave \(result) before the end, expected .incomplete or \(whole)",
                    file: file, line: line)
            return false
        }
    }

    // Byte by byte.
    hint = 0
    var byteByByte = HeadResult<Summary>.incomplete
    for length in 1...input.count {
        byteByByte = memory.withGuarded(input[0..<length]) { parse($0, &hint) }
        if length < input.count, !checkEarly(byteByByte, "prefix of \(length) bytes") { break }
    }
    XCTAssertEqual(byteByByte, whole, "\(row): byte-by-byte feed disagrees with whole feed", file: file, line: line)

    // Every two-way split.
    for split in 1..<max(1, input.count) {
        hint = 0
        let first = memory.withGuarded(input[0..<split]) { parse($0, &hint) }
        guard checkEarly(first, "first part of split at \(split)") else {
            XCTAssertEqual(first, whole, "\(row): split at \(split)", file: file, line: line)
            continue
        }
        let second = memory.withGuarded(input) { parse($0, &hint) }
        XCTAssertEqual(second, whole, "\(row): split at \(split) disagrees with whole feed", file: file, line: line)
    }
    return whole
}

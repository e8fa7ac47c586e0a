/// What one call of an incremental parser said, reduced to a comparable value (offsets from the
/// start of the buffer instead of pointers, so results from different copies compare equal).
public enum FeedResult<Summary: Equatable, Failure: Equatable>: Equatable {
    case incomplete
    case complete(Summary)
    case invalid(Failure)

    public var isFinal: Bool {
        if case .incomplete = self { return false }
        return true
    }
}

/// The differential check every incremental head parser must pass: the input parsed whole must
/// give the same result as the same input arriving one byte at a time (with the resume hint
/// carried over), and as the input arriving in two parts split at `split`. The first final
/// result of an incremental feed is the one that counts: the parser may reject early, and
/// completes as soon as the head is there, but it must never decide differently.
///
/// `parse` is called with views whose bytes past the end are poisoned (ASan), so any read past
/// the bytes "received so far" is reported.
public func checkIncrementalFeed<Summary: Equatable, Failure: Equatable>(
    _ input: UnsafeRawBufferPointer, split: Int, what: String,
    parse: (UnsafeRawBufferPointer, inout Int) -> FeedResult<Summary, Failure>
) {
    var hint = 0
    let whole = parse(input, &hint)
    if whole.isFinal { fuzzCheck(hint == 0, "\(what): hint \(hint) not reset after a final result") }

    let buffer = ExposedPrefixBuffer(copying: input)
    hint = 0
    var incremental = FeedResult<Summary, Failure>.incomplete
    var length = 0
    while length < input.count, !incremental.isFinal {
        length += 1
        incremental = parse(buffer.expose(length), &hint)
    }
    fuzzCheck(incremental == whole,
              "\(what): byte-by-byte feed gave \(incremental) after \(length) bytes, whole feed gave \(whole)")

    guard input.count > 1 else { return }
    let first = split % (input.count - 1) + 1
    hint = 0
    var result = parse(buffer.expose(first), &hint)
    if !result.isFinal {
        result = parse(buffer.expose(input.count), &hint)
    }
    fuzzCheck(result == whole, "\(what): feed split at \(first) gave \(result), whole feed gave \(whole)")
}

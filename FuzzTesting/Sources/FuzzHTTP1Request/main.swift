// FuzzHTTP1Request: RequestHeadParser on arbitrary bytes (the input is the raw request).
//
// Checks, on every input:
// - whole feed == byte-by-byte feed == two-part feed (see `checkIncrementalFeed`), with every
//   read past the bytes received so far reported by ASan;
// - a complete head is self-consistent (`RequestHeadInvariants`): fields, lines and views lie
//   inside the head, names are tokens, values hold no CR/LF/NUL and no edge whitespace, the
//   counters match the lines, framing matches the framing fields;
// - an incomplete or invalid parse leaves the storage empty.
import DevmeshBytes
import DevmeshHTTP1
import FuzzSupport

/// Small limits so the fuzzer reaches them with short inputs (431 paths included).
let limits = HTTP1Limits(maxHeadBytes: 2048, maxHeaderCount: 24)
/// libFuzzer calls the target from one thread only; the storage is reused like a worker's.
nonisolated(unsafe) let storage = HeaderStorage(capacity: limits.maxHeaderCount)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        let split = input.reduce(0) { $0 &+ Int($1) }
        checkIncrementalFeed(input, split: split, what: "request head") { buffer, hint -> FeedResult<RequestSummary, HTTP1Error> in
            switch RequestHeadParser.parse(buffer, into: storage, limits: limits, scanFrom: &hint) {
            case .incomplete:
                fuzzCheck(storage.count == 0, "storage not empty after .incomplete")
                return .incomplete
            case .invalid(let error):
                fuzzCheck(storage.count == 0, "storage not empty after .invalid(\(error))")
                return .invalid(error)
            case .complete(let head):
                let summary = RequestSummary(head, storage: storage, buffer: buffer)
                RequestHeadInvariants.check(head, summary: summary, storage: storage, buffer: buffer,
                                            limits: limits)
                return .complete(summary)
            }
        }
    }
}

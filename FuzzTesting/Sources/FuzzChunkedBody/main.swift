// FuzzChunkedBody: ChunkedDecoder (and BodyFramer in chunked mode) on an arbitrary body.
//
// Three walks over the same input must agree on where the body ends (or that it is invalid,
// with the same error, or needs more), on the payload bytes and on the trailer bytes:
// - `consume` over the whole input (the forwarding path);
// - `advance` steps over the whole input (the path that looks at payload and trailers);
// - `advance` fed one byte per call (input split everywhere);
// and all three must agree with `ReferenceChunkedParser`, a plain recursive reading of the
// RFC 9112 §7.1 grammar with the same limits, written independently of the decoder.
// The trailer block the steps reported must parse with `TrailerParser` into as many fields as
// the reference counted.
import DevmeshHTTP1
import FuzzSupport

/// Small limits so that every limit is reachable with short inputs.
let limits = HTTP1Limits(maxHeadBytes: 1024, maxHeaderCount: 6, maxChunkLineBytes: 48, maxTrailerBytes: 160)
/// libFuzzer calls the target from one thread only.
nonisolated(unsafe) let trailerStorage = HeaderStorage(capacity: limits.maxHeaderCount)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        var decoder = ChunkedDecoder(limits: limits)
        let consumed = decoder.consume(input)
        var framer = BodyFramer(request: .chunked, limits: limits)
        fuzzCheck(framer.consume(input) == consumed, "BodyFramer.consume disagrees with ChunkedDecoder.consume")
        fuzzCheck(decoder.isComplete == isEnd(consumed) && framer.isComplete == isEnd(consumed),
                  "isComplete disagrees with the result \(consumed)")

        let whole = StepWalk(input, stepSize: input.count)
        let bytewise = StepWalk(input, stepSize: 1)
        fuzzCheck(whole.progress == consumed, "advance walk says \(whole.progress), consume says \(consumed)")
        fuzzCheck(bytewise.progress == consumed, "byte-by-byte walk says \(bytewise.progress), whole says \(consumed)")
        fuzzCheck(bytewise.payload == whole.payload, "byte-by-byte payload differs")
        // Trailer bytes are reported in runs: a walk that fails may have reported a shorter run
        // of them first (one big step reports nothing before the failure, small steps do).
        if case .invalid = consumed {
            fuzzCheck(bytewise.trailers.starts(with: whole.trailers), "trailer bytes of the whole walk not a prefix")
        } else {
            fuzzCheck(bytewise.trailers == whole.trailers, "byte-by-byte trailer bytes differ")
        }

        let reference = ReferenceChunkedParser(input, limits: limits).parse()
        switch (reference, consumed) {
        case (.complete(let length, let payload, let trailers, let trailerCount), .end(let decoderLength)):
            fuzzCheck(length == decoderLength, "body ends at \(decoderLength), reference says \(length)")
            fuzzCheck(payload == whole.payload, "payload differs from the reference")
            fuzzCheck(trailers == whole.trailers, "trailer bytes differ from the reference")
            trailers.withUnsafeBytes { block in
                switch TrailerParser.parse(block, into: trailerStorage, limits: limits) {
                case .success(let count):
                    fuzzCheck(count == trailerCount, "TrailerParser found \(count) fields, reference \(trailerCount)")
                case .failure(let error):
                    fuzzCheck(false, "TrailerParser refused trailers the decoder accepted: \(error)")
                }
            }
        case (.incomplete, .needMore), (.invalid, .invalid):
            break
        default:
            fuzzCheck(false, "decoder says \(consumed), reference says \(reference)")
        }

        // After the end (or a failure) the decoder must stay where it is.
        let again = decoder.consume(input)
        switch consumed {
        case .end: fuzzCheck(again == .end(consumed: 0), "a complete decoder consumed more: \(again)")
        case .invalid: fuzzCheck(again == consumed, "a failed decoder changed its error: \(again)")
        case .needMore: break
        }
    }
}

func isEnd(_ progress: BodyProgress) -> Bool {
    if case .end = progress { return true }
    return false
}

/// Walks the input with `advance`, giving it at most `stepSize` new bytes per call, and collects
/// what the steps said. Every step must consume something unless it ends the walk.
struct StepWalk {
    var progress = BodyProgress.needMore
    var payload: [UInt8] = []
    var trailers: [UInt8] = []

    init(_ input: UnsafeRawBufferPointer, stepSize: Int) {
        var decoder = ChunkedDecoder(limits: limits)
        var position = 0
        var available = 0
        // A decoder that never finishes would loop; the input bounds the number of useful steps.
        var budget = 4 * input.count + 8
        while budget > 0 {
            budget -= 1
            available = min(input.count, max(available, position + stepSize))
            let window = UnsafeRawBufferPointer(rebasing: input[position..<available])
            switch decoder.advance(window) {
            case .data(let offset, let count):
                fuzzCheck(offset >= 0 && count > 0 && offset + count <= window.count,
                          "data step \(offset)+\(count) outside a window of \(window.count)")
                payload += window[(offset)..<(offset + count)]
                position += offset + count
            case .trailers(let offset, let count):
                fuzzCheck(offset >= 0 && count > 0 && offset + count <= window.count,
                          "trailer step \(offset)+\(count) outside a window of \(window.count)")
                trailers += window[(offset)..<(offset + count)]
                position += offset + count
            case .end(let consumed):
                fuzzCheck(consumed >= 0 && consumed <= window.count, "end after \(consumed) of \(window.count)")
                progress = .end(consumed: position + consumed)
                return
            case .needMore:
                if available == input.count {
                    progress = .needMore
                    return
                }
                position = available
            case .invalid(let error):
                progress = .invalid(error)
                return
            }
        }
        fuzzCheck(false, "advance made no progress")
    }
}

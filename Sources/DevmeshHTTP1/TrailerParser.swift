/// Parses the trailer field lines of a chunked body (the joined `.trailers` pieces reported by
/// `ChunkedDecoder`) into a `HeaderStorage`, with the same line rules as a head. For a proxy
/// that must hand trailers on as fields (HTTP/2, gRPC) rather than as raw bytes.
public enum TrailerParser {
    /// - Parameter block: complete field lines, each ending in CRLF, without the final empty line.
    /// - Returns: the number of fields recorded in `storage`, or why the block is invalid.
    public static func parse(_ block: UnsafeRawBufferPointer, into storage: HeaderStorage,
                             limits: HTTP1Limits) -> Result<Int, HTTP1Error> {
        storage.count = 0
        guard let bytes = RawBytes(block) else { return .success(0) }
        precondition(storage.capacity >= limits.maxHeaderCount, "HeaderStorage smaller than maxHeaderCount")
        precondition(block.count <= Int(UInt32.max), "a trailer block is bounded by maxTrailerBytes")
        var facts = FieldFacts()
        do {
            let count = try FieldLineParser.parse(bytes, from: 0, to: bytes.count, into: storage,
                                                  maxCount: limits.maxHeaderCount, meaning: .trailers,
                                                  facts: &facts)
            storage.count = count
            return .success(count)
        } catch {
            return .failure(error)
        }
    }
}

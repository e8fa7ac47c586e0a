/// One header field as two views into bytes the caller owns (a read buffer for HTTP/1.1,
/// a per-stream copy for HTTP/2). Nothing is copied and nothing is owned: a field is valid
/// exactly as long as the memory it points into.
///
/// This is the one shape every codec hands to routing, so carrier extraction works the same
/// for HTTP/1.1 request heads and HTTP/2 header blocks.
public struct HeaderField {
    public var name: UnsafeRawBufferPointer
    public var value: UnsafeRawBufferPointer

    @inlinable
    public init(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        self.name = name
        self.value = value
    }
}

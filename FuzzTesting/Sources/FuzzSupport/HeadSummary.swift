/// One recorded field line as offsets from the start of the parsed buffer.
public struct FieldSummary: Equatable, CustomStringConvertible {
    public var nameStart: Int
    public var nameEnd: Int
    public var valueStart: Int
    public var valueEnd: Int
    public var lineStart: Int
    public var lineLength: Int
    public var kind: UInt8
    public var hopByHop: Bool

    public init(nameStart: Int, nameEnd: Int, valueStart: Int, valueEnd: Int, lineStart: Int,
                lineLength: Int, kind: UInt8, hopByHop: Bool) {
        self.nameStart = nameStart
        self.nameEnd = nameEnd
        self.valueStart = valueStart
        self.valueEnd = valueEnd
        self.lineStart = lineStart
        self.lineLength = lineLength
        self.kind = kind
        self.hopByHop = hopByHop
    }

    public var description: String {
        "name \(nameStart)..<\(nameEnd) value \(valueStart)..<\(valueEnd) line \(lineStart)+\(lineLength)"
            + " kind \(kind)\(hopByHop ? " hop" : "")"
    }
}

extension UnsafeRawBufferPointer {
    /// Offset of `view` from the start of `self`, checking that it lies inside.
    public func offsets(of view: UnsafeRawBufferPointer, what: String) -> Range<Int> {
        guard view.count > 0 else {
            // An empty view may carry any address (or none); only its position matters when set.
            guard let start = view.baseAddress, let base = baseAddress else { return 0..<0 }
            let offset = start - UnsafeRawPointer(base)
            fuzzCheck(offset >= 0 && offset <= count, "\(what): empty view at \(offset) outside 0...\(count)")
            return offset..<offset
        }
        guard let start = view.baseAddress, let base = baseAddress else {
            fuzzCheck(false, "\(what): non-empty view without an address")
            return 0..<0
        }
        let offset = start - UnsafeRawPointer(base)
        fuzzCheck(offset >= 0 && offset + view.count <= count,
                  "\(what): view \(offset)..<\(offset + view.count) outside the buffer of \(count) bytes")
        return offset..<offset + view.count
    }
}

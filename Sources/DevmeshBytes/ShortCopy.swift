/// Byte copies sized for header names and values.
public enum ShortCopy {
    /// Copies `count` bytes from `source` to `target` (the regions must not overlap).
    ///
    /// Why not always `copyMemory` (memcpy): header names and most values are under 17 bytes,
    /// and for those the call through the PLT and memcpy's size dispatch cost more than the copy
    /// itself (memcpy was 1,000 instructions per gRPC call, for about 50 short strings). Up to
    /// 16 bytes, two loads and two stores that may overlap cover every length; longer strings
    /// still go to memcpy.
    @inlinable @inline(__always)
    public static func copy(from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer, count: Int) {
        // SAFETY: every load and store below lies inside the first `count` bytes of its side.
        switch count {
        case 8...16:
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            target.storeBytes(of: head, as: UInt64.self)
            target.storeBytes(of: tail, toByteOffset: count - 8, as: UInt64.self)
        case 4..<8:
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
            target.storeBytes(of: head, as: UInt32.self)
            target.storeBytes(of: tail, toByteOffset: count - 4, as: UInt32.self)
        case 1..<4:
            // First, middle and last byte: all of 1, 2 or 3.
            let first = source.load(as: UInt8.self)
            let middle = source.load(fromByteOffset: count >> 1, as: UInt8.self)
            let last = source.load(fromByteOffset: count - 1, as: UInt8.self)
            target.storeBytes(of: first, as: UInt8.self)
            target.storeBytes(of: middle, toByteOffset: count >> 1, as: UInt8.self)
            target.storeBytes(of: last, toByteOffset: count - 1, as: UInt8.self)
        case 0:
            break
        default:
            target.copyMemory(from: source, byteCount: count)
        }
    }
}

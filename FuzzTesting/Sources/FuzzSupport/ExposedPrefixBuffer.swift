#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap copy of the input of which only a prefix is readable: the rest is poisoned for
/// AddressSanitizer. It lets a target feed one input to a parser growing one byte at a time,
/// in the same memory, and still have every read past the current prefix reported, at O(1)
/// cost per step instead of one fresh copy per prefix (which would be O(n^2)).
///
/// Outside an ASan build (the plain `swift build` of the targets) poisoning is a no-op and the
/// buffer is an ordinary copy.
public final class ExposedPrefixBuffer {
    public let count: Int
    private let base: UnsafeMutableRawPointer
    private var exposed: Int

    public init(copying input: UnsafeRawBufferPointer) {
        count = input.count
        // One byte at least, so that an empty input still has an address; that byte stays poisoned.
        base = .allocate(byteCount: max(count, 1), alignment: 1)
        if let source = input.baseAddress, count > 0 {
            base.copyMemory(from: source, byteCount: count)
        }
        exposed = max(count, 1)
        AddressSanitizer.poison(base, exposed)
        exposed = 0
    }

    deinit {
        AddressSanitizer.unpoison(base, max(count, 1))
        base.deallocate()
    }

    /// Makes exactly `base[0..<length]` readable and returns it as a view.
    public func expose(_ length: Int) -> UnsafeRawBufferPointer {
        precondition(length >= 0 && length <= count, "prefix outside the input")
        if length > exposed {
            AddressSanitizer.unpoison(base + exposed, length - exposed)
        } else if length < exposed {
            AddressSanitizer.poison(base + length, exposed - length)
        }
        exposed = length
        return UnsafeRawBufferPointer(start: base, count: length)
    }

    /// The same bytes as a mutable view (for in-place rewriting); the caller exposes first.
    public var mutableBase: UnsafeMutableRawPointer { base }
}

/// The manual poisoning interface of AddressSanitizer, looked up at run time so that the
/// targets also link (and do nothing) without the sanitizer.
public enum AddressSanitizer {
    private typealias RegionFunction = @convention(c) (UnsafeRawPointer?, Int) -> Void

    private static let poisonFunction: RegionFunction? = lookUp("__asan_poison_memory_region")
    private static let unpoisonFunction: RegionFunction? = lookUp("__asan_unpoison_memory_region")

    private static func lookUp(_ name: String) -> RegionFunction? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: RegionFunction.self)
    }

    /// True when the process runs under AddressSanitizer.
    public static var isActive: Bool { poisonFunction != nil }

    public static func poison(_ start: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        poisonFunction?(start, count)
    }

    public static func unpoison(_ start: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        unpoisonFunction?(start, count)
    }
}

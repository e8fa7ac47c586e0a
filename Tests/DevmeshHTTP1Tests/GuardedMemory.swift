#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Test memory whose usable part ends exactly where an inaccessible page begins, as
/// picohttpparser's tests do: an input copied to the end of the usable part makes any read
/// (or write) past its last byte crash the test instead of passing silently.
final class GuardedMemory {
    private let pageSize: Int
    private let usable: Int
    private let mapping: UnsafeMutableRawPointer

    init(capacity: Int = 128 * 1024) {
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        usable = (capacity + pageSize - 1) / pageSize * pageSize
        guard let address = mmap(nil, usable + pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              address != MAP_FAILED else {
            fatalError("mmap failed")
        }
        mapping = address
        guard mprotect(mapping + usable, pageSize, PROT_NONE) == 0 else { fatalError("mprotect failed") }
    }

    deinit {
        munmap(mapping, usable + pageSize)
    }

    /// Copies `bytes` so that they end at the guard page and passes them to `body`.
    func withGuarded<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(bytes.count <= usable)
        let start = mapping + (usable - bytes.count)
        let view = UnsafeMutableRawBufferPointer(start: start, count: bytes.count)
        _ = view.initializeMemory(as: UInt8.self, from: bytes)
        return try body(UnsafeRawBufferPointer(view))
    }

    /// Like `withGuarded`, with `headroom` bytes of filler before the input and a mutable view of
    /// headroom + input.
    func withGuardedMutable<R>(_ bytes: [UInt8], headroom: Int, filler: UInt8,
                               _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(bytes.count + headroom <= usable)
        let start = mapping + (usable - bytes.count - headroom)
        let view = UnsafeMutableRawBufferPointer(start: start, count: bytes.count + headroom)
        view.initializeMemory(as: UInt8.self, repeating: filler)
        _ = UnsafeMutableRawBufferPointer(rebasing: view[headroom...]).initializeMemory(as: UInt8.self, from: bytes)
        return try body(view)
    }
}

/// The bytes of a test string, one byte per Unicode scalar (Latin-1), so that rows can spell
/// obs-text as "\u{80}" and control bytes as "\u{0}" and get exactly that byte.
func latin1(_ text: String) -> [UInt8] {
    text.unicodeScalars.map { scalar in
        precondition(scalar.value <= 0xFF, "test inputs are bytes")
        return UInt8(scalar.value)
    }
}

extension UnsafeRawBufferPointer {
    /// Latin-1 decoding, the inverse of `latin1(_:)`.
    var latin1String: String {
        String(String.UnicodeScalarView(self.map { Unicode.Scalar($0) }))
    }
}

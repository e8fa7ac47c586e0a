#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Stops the run when an invariant of the code under test does not hold.
///
/// A fuzz target reports a finding by crashing: libFuzzer catches the trap, prints the stack and
/// saves the input that caused it (scripts/fuzz.sh moves it to `FuzzTesting/FailCases/<target>/`).
/// The message goes to stderr first so the log says which property broke, not only where.
@inline(never)
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    guard !condition() else { return }
    let text = "fuzz check failed at \(file):\(line): \(message())\n"
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    fatalError("fuzz check failed", file: file, line: line)
}

/// Runs `body` on the fuzzer's input as a buffer view. libFuzzer hands over a heap copy of
/// exactly `size` bytes, so under AddressSanitizer a read one byte past the end is reported.
@inlinable
public func withFuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int,
                          _ body: (UnsafeRawBufferPointer) -> Void) -> CInt {
    body(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
    return 0
}

import CDevmeshLinux
import Glibc

/// A failed system call: the errno value, typed so that hot paths can `throw(Errno)` without
/// boxing (an untyped `throw` allocates).
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32

    @inlinable
    public init(_ code: Int32) { self.code = code }

    /// The errno of the last failed call on this thread.
    @inlinable
    public static var current: Errno { Errno(errno) }

    public var description: String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    public static let wouldBlock = Errno(EAGAIN)
    public static let interrupted = Errno(EINTR)
    public static let inProgress = Errno(EINPROGRESS)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let connectionReset = Errno(ECONNRESET)
    public static let brokenPipe = Errno(EPIPE)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let tooManyOpenFiles = Errno(EMFILE)
    public static let systemTooManyOpenFiles = Errno(ENFILE)
    public static let addressInUse = Errno(EADDRINUSE)
}

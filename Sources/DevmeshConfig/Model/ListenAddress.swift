/// A local address the proxy binds: an IP literal (IPv4 or IPv6, stored without brackets)
/// or `localhost`, and a port. Port 0 asks the kernel to pick one (tests use it).
///
/// Only literals and `localhost` are accepted because a listener must not depend on DNS at
/// startup, and `localhost` is the one name every resolver answers from `/etc/hosts`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// `127.0.0.1`, `::1`, `0.0.0.0`, `::` or `localhost` (lower case).
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// True for an IPv6 literal (the host contains a colon).
    public var isIPv6: Bool { host.contains(":") }

    /// `host:port`, with brackets around an IPv6 host: the same spelling the config accepts.
    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A client connection as the worker sees it: an HTTP/1.1 session or an HTTP/2 connection. The
/// worker keeps them in one list for the connection cap and for draining.
protocol DownstreamConnection: AnyObject {
    /// Position in the worker's list (for O(1) removal); -1 when not listed.
    var registryIndex: Int { get set }
    /// The worker is draining: finish what is in flight, take nothing new, then close.
    func drain()
}

extension HTTP1Session: DownstreamConnection {}

/// What a live reload can apply.
///
/// Listeners, workers and the admin address are fixed when the process starts: each worker
/// thread binds its own SO_REUSEPORT sockets, so changing them means rebinding sockets under
/// live connections. The agent connection and the HTTP/2 stream send buffer (the chunk size
/// of each worker's buffer pool) are fixed too. Everything else (routing, limits, the other
/// HTTP/2 settings, timeouts, the access log, the drain timeout) is read per connection or per
/// request and applies to new work after a reload.
///
/// The handover socket is bound once at start as well.
///
/// Returns the YAML keys whose change needs a restart, in that order; empty when the new
/// configuration can be applied live in full. The proxy logs these and applies the rest.
public func restartRequiredChanges(from old: ProxyConfiguration, to new: ProxyConfiguration) -> [String] {
    var keys: [String] = []
    // Order does not matter: every worker binds every listener.
    if Set(old.listeners) != Set(new.listeners) { keys.append("listen") }
    if old.workers != new.workers { keys.append("workers") }
    if old.admin != new.admin { keys.append("admin") }
    if old.agent != new.agent { keys.append("agent") }
    if old.http2.streamSendBufferBytes != new.http2.streamSendBufferBytes { keys.append("http2.stream_send_buffer") }
    if old.handoverSocket != new.handoverSocket { keys.append("handover_socket") }
    return keys
}

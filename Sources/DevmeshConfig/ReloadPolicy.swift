/// What a live reload can apply.
///
/// Listeners, workers and the admin address are fixed when the process starts: each worker
/// thread binds its own SO_REUSEPORT sockets, so changing them means rebinding sockets under
/// live connections. Everything else (routing, limits, timeouts, the access log, the drain
/// timeout) is read per connection or per request and applies to new work after a reload.
///
/// The handover socket is bound once at start as well.
///
/// Returns the YAML keys (`listen`, `workers`, `admin`, `agent`, `handover_socket`) whose
/// change needs a restart, in that order; empty when the new configuration can be applied
/// live in full. The proxy logs these and applies the rest.
public func restartRequiredChanges(from old: ProxyConfiguration, to new: ProxyConfiguration) -> [String] {
    var keys: [String] = []
    // Order does not matter: every worker binds every listener.
    if Set(old.listeners) != Set(new.listeners) { keys.append("listen") }
    if old.workers != new.workers { keys.append("workers") }
    if old.admin != new.admin { keys.append("admin") }
    if old.agent != new.agent { keys.append("agent") }
    if old.handoverSocket != new.handoverSocket { keys.append("handover_socket") }
    return keys
}

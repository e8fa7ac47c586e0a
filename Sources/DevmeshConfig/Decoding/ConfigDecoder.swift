import DevmeshHTTP1
import DevmeshRouting

/// Turns the YAML document into a `ProxyConfiguration`, reporting every problem into
/// `diagnostics`. Returns `nil` when anything was reported; the caller turns the diagnostics
/// into the `ConfigError`. Routing sections are in `ConfigDecoder+Routing.swift`.
struct ConfigDecoder {
    let diagnostics: Diagnostics

    func decode(_ root: YAMLValue) -> ProxyConfiguration? {
        guard let top = root.mapping(diagnostics, schema: Schema.topLevel) else { return nil }

        // Each section reports its own problems and falls back to its default, so the whole
        // file is checked; the result is discarded below if anything was reported.
        var listeners = [ProxyConfiguration.defaultListener]
        if let value = top.optional("listen", diagnostics) {
            listeners = decodeListeners(value) ?? []
        }
        var workers: Int?
        if let value = top.optional("workers", diagnostics) {
            workers = decodeWorkers(value)
        }
        var admin: ListenAddress?
        if let value = top.optional("admin", diagnostics), let address = listenAddress(value) {
            if address.port != 0 && listeners.contains(address) {
                diagnostics.report("\(address) is also a listen address", at: value.location)
            }
            admin = address
        }
        var drainTimeout = ProxyConfiguration.defaultDrainTimeout
        if let value = top.optional("drain_timeout", diagnostics), let duration = duration(value, offAllowed: false) {
            drainTimeout = duration
        }
        var accessLog = AccessLogTarget.off
        if let value = top.optional("access_log", diagnostics), let target = decodeAccessLog(value) {
            accessLog = target
        }
        var http1 = HTTP1Limits()
        var limits = ProxyLimits()
        if let value = top.optional("limits", diagnostics) {
            (http1, limits) = decodeLimits(value)
        }
        var http2 = HTTP2Options()
        if let value = top.optional("http2", diagnostics) {
            http2 = decodeHTTP2(value)
        }
        var timeouts = Timeouts()
        if let value = top.optional("timeouts", diagnostics) {
            timeouts = decodeTimeouts(value)
        }
        var carriers = CarrierSpec()
        if let value = top.optional("routing", diagnostics) {
            carriers = decodeCarriers(value)
        }
        var workloads: [ServiceWorkload] = []
        let services = top.required("services", diagnostics).flatMap { decodeServices($0, workloads: &workloads) }
        let agentValue = top.optional("agent", diagnostics)
        var agent: AgentSettings?
        if let agentValue {
            agent = decodeAgent(agentValue, subscriptions: workloads.map(\.subscription))
            if workloads.isEmpty {
                diagnostics.report("no service names a workload: the agent would have nothing to route",
                                   at: agentValue.location)
            }
        } else if let first = workloads.first {
            diagnostics.report("a workload needs an agent to watch (add a top-level agent: section)",
                               at: first.location)
        }

        let handoverSocket = top.optional("handover_socket", diagnostics).flatMap {
            scalar($0, expecting: "an absolute unix socket path", HandoverSocketSyntax.path)
        }

        guard diagnostics.isEmpty, let services else { return nil }
        var configuration = ProxyConfiguration(listeners: listeners, workers: workers, admin: admin,
                                               drainTimeout: drainTimeout, accessLog: accessLog,
                                               http1: http1, http2: http2, limits: limits, timeouts: timeouts,
                                               routing: RoutingSpec(services: services, carriers: carriers),
                                               agent: agent)
        configuration.handoverSocket = handoverSocket
        readInteger(top, "batch_window_us", Bounds.batchWindowMicroseconds, size: false,
                    into: &configuration.batchWindowMicroseconds)
        return configuration
    }

    /// `agent: { address: HOST:PORT, sync_timeout: 5s, keepalive_interval: 5s, keepalive_timeout: 15s }`,
    /// or `agent: HOST:PORT`.
    private func decodeAgent(_ value: YAMLValue, subscriptions: [WorkloadSubscription]) -> AgentSettings? {
        if case .scalar = value.node {
            guard let address = scalar(value, expecting: "HOST:PORT", AddressSyntax.endpoint) else { return nil }
            return AgentSettings(address: address, subscriptions: subscriptions)
        }
        guard let map = value.mapping(diagnostics, schema: Schema.agent) else { return nil }
        let address = map.required("address", diagnostics).flatMap { scalar($0, expecting: "HOST:PORT", AddressSyntax.endpoint) }
        var timeout = AgentSettings.defaultSyncTimeout
        if let item = map.optional("sync_timeout", diagnostics), let parsed = duration(item, offAllowed: false) {
            timeout = parsed
        }
        var keepaliveInterval = AgentSettings.defaultKeepaliveInterval
        if let item = map.optional("keepalive_interval", diagnostics), let parsed = duration(item, offAllowed: true) {
            keepaliveInterval = parsed
        }
        var keepaliveTimeout = AgentSettings.defaultKeepaliveTimeout
        if let item = map.optional("keepalive_timeout", diagnostics), let parsed = duration(item, offAllowed: false) {
            keepaliveTimeout = parsed
        }
        guard let address else { return nil }
        return AgentSettings(address: address, syncTimeout: timeout, keepaliveInterval: keepaliveInterval,
                             keepaliveTimeout: keepaliveTimeout, subscriptions: subscriptions)
    }

    // MARK: - Process

    private func decodeListeners(_ value: YAMLValue) -> [ListenAddress]? {
        guard let items = value.list(diagnostics, of: "addresses") else { return nil }
        if items.isEmpty {
            diagnostics.report("needs at least one address", at: value.location)
            return nil
        }
        var seen = FirstSeen<ListenAddress>()
        return items.compactMap { item in
            guard let address = listenAddress(item) else { return nil }
            // Port 0 is "any free port": two of them are two different sockets.
            if address.port != 0, let note = seen.repeatNote(address, at: item.location) {
                diagnostics.report("duplicate listen address \(address)\(note)", at: item.location)
            }
            return address
        }
    }

    /// A worker count, or `nil` for `auto` (one per core) and for a reported problem.
    private func decodeWorkers(_ value: YAMLValue) -> Int? {
        guard let text = value.scalar(diagnostics, expecting: "a number or auto") else { return nil }
        if text == "auto" { return nil }
        return count(value, in: Bounds.workers)
    }

    private func decodeAccessLog(_ value: YAMLValue) -> AccessLogTarget? {
        guard let text = value.scalar(diagnostics, expecting: "off, stdout or a file path") else { return nil }
        return AccessLogSyntax.parse(text, relativeTo: nil, report: { diagnostics.report($0, at: value.location) })
    }

    private func listenAddress(_ value: YAMLValue) -> ListenAddress? {
        guard let text = value.scalar(diagnostics, expecting: "an address") else { return nil }
        do {
            return try AddressSyntax.listenAddress(text)
        } catch {
            diagnostics.report(error, at: value.location)
            return nil
        }
    }

    // MARK: - Limits and timeouts

    private func decodeLimits(_ value: YAMLValue) -> (HTTP1Limits, ProxyLimits) {
        var http1 = HTTP1Limits()
        var limits = ProxyLimits()
        guard let map = value.mapping(diagnostics, schema: Schema.limits) else { return (http1, limits) }
        func read(_ key: String, _ range: ClosedRange<Int>, size: Bool, into field: inout Int) {
            readInteger(map, key, range, size: size, into: &field)
        }
        read("max_head_bytes", Bounds.maxHeadBytes, size: true, into: &http1.maxHeadBytes)
        read("max_header_count", Bounds.maxHeaderCount, size: false, into: &http1.maxHeaderCount)
        read("max_chunk_line_bytes", Bounds.maxChunkLineBytes, size: true, into: &http1.maxChunkLineBytes)
        read("max_trailer_bytes", Bounds.maxTrailerBytes, size: true, into: &http1.maxTrailerBytes)
        read("max_connections_per_worker", Bounds.maxConnectionsPerWorker, size: false,
             into: &limits.maxConnectionsPerWorker)
        read("max_requests_per_worker", Bounds.maxRequestsPerWorker, size: false, into: &limits.maxRequestsPerWorker)
        read("upstream_max_idle_per_endpoint", Bounds.upstreamMaxIdlePerEndpoint, size: false,
             into: &limits.upstreamMaxIdlePerEndpoint)
        read("upstream_max_connections_per_endpoint", Bounds.upstreamMaxConnectionsPerEndpoint, size: false,
             into: &limits.upstreamMaxConnectionsPerEndpoint)
        if map.optional("upstream_max_idle_per_endpoint", diagnostics) == nil {
            // Not given: keep as many idle as may be open, whatever the connection cap says.
            limits.upstreamMaxIdlePerEndpoint = min(limits.upstreamMaxIdlePerEndpoint,
                                                    limits.upstreamMaxConnectionsPerEndpoint)
        } else if limits.upstreamMaxIdlePerEndpoint > limits.upstreamMaxConnectionsPerEndpoint {
            diagnostics.report("upstream_max_idle_per_endpoint (\(limits.upstreamMaxIdlePerEndpoint)) exceeds "
                               + "upstream_max_connections_per_endpoint (\(limits.upstreamMaxConnectionsPerEndpoint))",
                               at: value.location)
        }
        return (http1, limits)
    }

    /// An optional count or size under `key`, within `range`; left as it is when absent or invalid
    /// (the problem is reported).
    private func readInteger(_ map: YAMLMapping, _ key: String, _ range: ClosedRange<Int>, size: Bool,
                             into field: inout Int) {
        guard let item = map.optional(key, diagnostics) else { return }
        if let number = size ? self.size(item, in: range) : count(item, in: range) { field = number }
    }

    private func decodeHTTP2(_ value: YAMLValue) -> HTTP2Options {
        var options = HTTP2Options()
        guard let map = value.mapping(diagnostics, schema: Schema.http2) else { return options }
        func read(_ key: String, _ range: ClosedRange<Int>, size: Bool, into field: inout Int) {
            readInteger(map, key, range, size: size, into: &field)
        }
        read("max_concurrent_streams", Bounds.http2MaxConcurrentStreams, size: false, into: &options.maxConcurrentStreams)
        read("initial_stream_window", Bounds.http2InitialStreamWindow, size: true, into: &options.initialStreamWindowBytes)
        read("connection_window", Bounds.http2ConnectionWindow, size: true, into: &options.connectionWindowBytes)
        read("max_frame_size", Bounds.http2MaxFrameBytes, size: true, into: &options.maxFrameBytes)
        read("max_header_list_bytes", Bounds.http2MaxHeaderListBytes, size: true, into: &options.maxHeaderListBytes)
        read("max_header_count", Bounds.http2MaxHeaderCount, size: false, into: &options.maxHeaderCount)
        read("stream_send_buffer", Bounds.http2StreamSendBuffer, size: true, into: &options.streamSendBufferBytes)
        read("max_continuation_frames", Bounds.http2MaxContinuationFrames, size: false,
             into: &options.maxContinuationFrames)
        read("max_consecutive_empty_frames", Bounds.http2MaxConsecutiveEmptyFrames, size: false,
             into: &options.maxConsecutiveEmptyFrames)
        read("max_outbound_queued_frames", Bounds.http2MaxOutboundQueuedFrames, size: false,
             into: &options.maxOutboundQueuedFrames)
        read("rapid_reset_streams", Bounds.http2RapidResetStreams, size: false, into: &options.rapidResetStreams)
        read("rapid_reset_percent", Bounds.http2RapidResetPercent, size: false, into: &options.rapidResetPercent)
        if let item = map.optional("rapid_reset_window", diagnostics), let window = duration(item, offAllowed: false) {
            options.rapidResetWindow = window
        }
        return options
    }

    private func decodeTimeouts(_ value: YAMLValue) -> Timeouts {
        var timeouts = Timeouts()
        guard let map = value.mapping(diagnostics, schema: Schema.timeouts) else { return timeouts }
        func read(_ key: String, offAllowed: Bool, into field: inout Milliseconds) {
            guard let item = map.optional(key, diagnostics) else { return }
            if let duration = duration(item, offAllowed: offAllowed) { field = duration }
        }
        read("request_head", offAllowed: false, into: &timeouts.requestHead)
        read("downstream_idle", offAllowed: false, into: &timeouts.downstreamIdle)
        read("upstream_connect", offAllowed: false, into: &timeouts.upstreamConnect)
        read("upstream_response", offAllowed: true, into: &timeouts.upstreamResponse)
        read("upstream_idle", offAllowed: false, into: &timeouts.upstreamIdle)
        read("stream_idle", offAllowed: true, into: &timeouts.streamIdle)
        return timeouts
    }

    // MARK: - Numbers

    func count(_ value: YAMLValue, in range: ClosedRange<Int>) -> Int? {
        guard let text = value.scalar(diagnostics, expecting: "a number") else { return nil }
        do {
            let number = try QuantitySyntax.integer(text)
            guard range.contains(number) else {
                diagnostics.report("\(Quantity.count(number)) is out of range "
                                   + "(\(Quantity.count(range.lowerBound))-\(Quantity.count(range.upperBound)))",
                                   at: value.location)
                return nil
            }
            return number
        } catch {
            diagnostics.report(error, at: value.location)
            return nil
        }
    }

    func size(_ value: YAMLValue, in range: ClosedRange<Int>) -> Int? {
        guard let text = value.scalar(diagnostics, expecting: "a size") else { return nil }
        do {
            let bytes = try QuantitySyntax.size(text)
            guard range.contains(bytes) else {
                diagnostics.report("\(text) is out of range "
                                   + "(\(Quantity.bytes(range.lowerBound))-\(Quantity.bytes(range.upperBound)))",
                                   at: value.location)
                return nil
            }
            return bytes
        } catch {
            diagnostics.report(error, at: value.location)
            return nil
        }
    }

    /// A duration in `Bounds.duration`; with `offAllowed`, also `0`-anything or `off`.
    func duration(_ value: YAMLValue, offAllowed: Bool) -> Milliseconds? {
        guard let text = value.scalar(diagnostics, expecting: "a duration") else { return nil }
        if offAllowed && text == "off" { return .off }
        do {
            let duration = try QuantitySyntax.duration(text)
            if duration.isOff && offAllowed { return .off }
            return DurationRule.check(duration, text: text, offAllowed: offAllowed,
                                      report: { diagnostics.report($0, at: value.location) })
        } catch {
            diagnostics.report(error, at: value.location)
            return nil
        }
    }
}

/// Range rules for durations, shared with the quick-start flags.
enum DurationRule {
    static func check(_ duration: Milliseconds, text: String, offAllowed: Bool,
                      report: (String) -> Void) -> Milliseconds? {
        if duration.isOff && !offAllowed {
            report("cannot be 0 (this timeout cannot be switched off)")
            return nil
        }
        guard Bounds.duration.contains(duration) else {
            report("\(text) is out of range (\(Bounds.duration.lowerBound)-\(Bounds.duration.upperBound))")
            return nil
        }
        return duration
    }
}

/// `off`, `stdout`, or a file path. The YAML file requires an absolute path (a relative one
/// would depend on the directory the proxy happens to start in); the flag resolves a relative
/// path against the current directory, as any command-line tool does.
enum AccessLogSyntax {
    static func parse(_ text: String, relativeTo directory: String?, report: (String) -> Void) -> AccessLogTarget? {
        switch text {
        case "off": return .off
        case "stdout": return .stdout
        case "": report("expected off, stdout or an absolute file path"); return nil
        default:
            if text.hasPrefix("/") { return .file(path: text) }
            guard let directory else {
                report("'\(text)' is not an absolute path (expected off, stdout or a path starting with /)")
                return nil
            }
            return .file(path: directory.hasSuffix("/") ? directory + text : directory + "/" + text)
        }
    }
}

import DevmeshHTTP1
import DevmeshRouting

/// The bodies of `/routes` (JSON) and `/metrics` (Prometheus text exposition format 0.0.4).
enum AdminDocuments {
    /// The table in force, as the routing module describes it (services, routes, carriers,
    /// version).
    static func routes(_ snapshot: ProxySnapshot, controlPlane: ControlPlaneClient?) -> String {
        let table = snapshot.table.describe()
        guard let controlPlane, table.first == "{" else { return table }
        // The table's own document, with the watch state first.
        return "{\"agent\":" + controlPlane.describeJSON() + "," + table.dropFirst()
    }

    static func metrics(stats: WorkerStats, snapshot: ProxySnapshot, reloads: UInt64, reloadFailures: UInt64,
                        draining: Bool, controlPlane: ControlPlaneClient?) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("devmesh_requests_total", "counter", "Proxied requests by destination kind and response status class.")
        for (kindIndex, kind) in ["baseline", "sandbox"].enumerated() {
            for statusClass in 1...5 {
                let value = stats.requests[kindIndex * WorkerStats.statusClasses + statusClass - 1]
                out += "devmesh_requests_total{route=\"\(kind)\",status=\"\(statusClass)xx\"} \(value)\n"
            }
        }
        family("devmesh_local_responses_total", "counter",
               "Responses devmesh generated before routing (malformed requests, unknown host, timeouts).")
        for statusClass in 1...5 {
            out += "devmesh_local_responses_total{status=\"\(statusClass)xx\"} \(stats.localResponses[statusClass - 1])\n"
        }
        family("devmesh_rejected_requests_total", "counter", "Malformed requests by reason.")
        for (index, error) in HTTP1Error.allCases.enumerated() where stats.rejectedRequests[index] > 0 {
            out += "devmesh_rejected_requests_total{reason=\"\(error.slug)\"} \(stats.rejectedRequests[index])\n"
        }
        family("devmesh_upstream_errors_total", "counter", "Upstream failures by reason.")
        for failure in UpstreamFailure.allCases {
            out += "devmesh_upstream_errors_total{reason=\"\(failure.slug)\"} \(stats.upstreamFailures[failure.rawValue])\n"
        }
        family("devmesh_upstream_retries_total", "counter", "Requests replayed after the keep-alive race.")
        out += "devmesh_upstream_retries_total \(stats.upstreamRetries)\n"
        family("devmesh_fallbacks_total", "counter", "Sandbox requests sent to the baseline by fallback: baseline.")
        out += "devmesh_fallbacks_total \(stats.fallbacks)\n"
        family("devmesh_downstream_connections", "gauge", "Open downstream connections.")
        out += "devmesh_downstream_connections \(stats.downstreamOpen)\n"
        family("devmesh_downstream_connections_accepted_total", "counter", "Accepted downstream connections.")
        out += "devmesh_downstream_connections_accepted_total \(stats.downstreamAccepted)\n"
        family("devmesh_downstream_connections_rejected_total", "counter",
               "Connections refused with 503 above max_connections_per_worker or while draining.")
        out += "devmesh_downstream_connections_rejected_total \(stats.downstreamRejectedOverLimit)\n"
        family("devmesh_requests_in_flight", "gauge", "Requests admitted and not yet answered.")
        out += "devmesh_requests_in_flight \(stats.requestsInFlight)\n"
        family("devmesh_requests_shed_total", "counter",
               "Requests shed above max_requests_per_worker (HTTP/1.1 503, HTTP/2 REFUSED_STREAM).")
        out += "devmesh_requests_shed_total \(stats.requestsShed)\n"
        family("devmesh_accept_errors_total", "counter", "accept() failures (EMFILE pauses accepting).")
        out += "devmesh_accept_errors_total \(stats.acceptErrors)\n"
        family("devmesh_request_head_timeouts_total", "counter", "Requests cut at the request-head timeout (408).")
        out += "devmesh_request_head_timeouts_total \(stats.headTimeouts)\n"
        family("devmesh_http2_connections_total", "counter", "Client connections that spoke h2c.")
        out += "devmesh_http2_connections_total \(stats.http2Connections)\n"
        family("devmesh_http2_connection_failures_total", "counter",
               "HTTP/2 client connections failed with GOAWAY, by reason (abuse limits and protocol errors).")
        for (index, slug) in WorkerStats.http2FailureSlugs.enumerated() {
            out += "devmesh_http2_connection_failures_total{reason=\"\(slug)\"} \(stats.http2Failures[index])\n"
        }
        family("devmesh_http2_streams_total", "counter",
               "Streams of closed HTTP/2 client connections, by how they ended (added when a connection closes).")
        out += "devmesh_http2_streams_total{event=\"opened\"} \(stats.http2StreamsOpened)\n"
        out += "devmesh_http2_streams_total{event=\"reset_by_client\"} \(stats.http2StreamsResetByPeer)\n"
        out += "devmesh_http2_streams_total{event=\"reset_by_devmesh\"} \(stats.http2StreamsResetLocally)\n"
        out += "devmesh_http2_streams_total{event=\"header_list_too_large\"} \(stats.http2HeaderListsTooLarge)\n"
        out += "devmesh_http2_streams_total{event=\"invalid_header_field\"} \(stats.http2InvalidHeaderFields)\n"
        out += "devmesh_http2_streams_total{event=\"invalid_frame\"} \(stats.http2InvalidFrames)\n"
        family("devmesh_http2_upstream_goaways_total", "counter", "GOAWAY frames received from HTTP/2 upstreams.")
        out += "devmesh_http2_upstream_goaways_total \(stats.upstreamGoAways)\n"
        family("devmesh_upstream_connections", "gauge", "Open upstream connections (idle, busy and connecting).")
        out += "devmesh_upstream_connections \(stats.upstreamOpen)\n"
        family("devmesh_upstream_connects_total", "counter", "Upstream connections opened.")
        out += "devmesh_upstream_connects_total \(stats.upstreamConnects)\n"
        family("devmesh_batch_pauses_total", "counter",
               "Pauses the workers' loops took after a busy turn so that what arrives meanwhile is handled in one batch.")
        out += "devmesh_batch_pauses_total \(stats.batchPauses)\n"
        family("devmesh_upstream_reuses_total", "counter", "Requests that reused a pooled upstream connection.")
        out += "devmesh_upstream_reuses_total \(stats.upstreamReused)\n"
        family("devmesh_upstream_ejections_total", "counter",
               "Endpoints passed over for a while after 5 connect failures in a row.")
        out += "devmesh_upstream_ejections_total \(stats.upstreamEjections)\n"
        family("devmesh_buffers_in_use", "gauge", "I/O buffers lent out by the workers' pools.")
        out += "devmesh_buffers_in_use \(stats.buffersInUse)\n"
        family("devmesh_buffer_bytes_reserved", "gauge", "Bytes held by the workers' buffer pools.")
        out += "devmesh_buffer_bytes_reserved \(stats.bufferBytesReserved)\n"
        family("devmesh_route_table_version", "gauge", "Version of the route table in force.")
        out += "devmesh_route_table_version \(snapshot.version)\n"
        family("devmesh_route_table_routes", "gauge", "Routing keys in the table in force.")
        out += "devmesh_route_table_routes \(snapshot.configuration.routing.services.reduce(0) { $0 + $1.routes.count })\n"
        family("devmesh_config_reloads_total", "counter", "Successful configuration reloads.")
        out += "devmesh_config_reloads_total \(reloads)\n"
        family("devmesh_config_reload_failures_total", "counter", "Reloads refused (the old table kept serving).")
        out += "devmesh_config_reload_failures_total \(reloadFailures)\n"
        family("devmesh_draining", "gauge", "1 while draining after SIGTERM/SIGINT.")
        out += "devmesh_draining \(draining ? 1 : 0)\n"
        if let controlPlane {
            family("devmesh_agent_watch_state", "gauge",
                   "Route watch per workload: 0 connecting, 1 syncing, 2 synced, 3 backing off to reconnect.")
            for watch in controlPlane.watches {
                out += "devmesh_agent_watch_state{workload=\"\(watch.subscription.workload)\"} \(watch.state.rawValue)\n"
            }
            family("devmesh_agent_rules", "gauge", "Routing rules in force per workload.")
            for watch in controlPlane.watches {
                out += "devmesh_agent_rules{workload=\"\(watch.subscription.workload)\"} \(watch.live.count)\n"
            }
            family("devmesh_agent_ops_total", "counter", "Watch ops applied and rejected (malformed or out of place).")
            let applied = controlPlane.watches.reduce(UInt64(0)) { $0 &+ $1.opsApplied }
            let rejected = controlPlane.watches.reduce(UInt64(0)) { $0 &+ $1.opsRejected }
            out += "devmesh_agent_ops_total{result=\"applied\"} \(applied)\n"
            out += "devmesh_agent_ops_total{result=\"rejected\"} \(rejected)\n"
            family("devmesh_agent_table_updates_total", "counter",
                   "Route tables built from agent rules, and updates refused whole (the old table kept serving).")
            out += "devmesh_agent_table_updates_total{result=\"applied\"} \(controlPlane.updatesApplied)\n"
            out += "devmesh_agent_table_updates_total{result=\"refused\"} \(controlPlane.updatesRefused)\n"
            family("devmesh_agent_reconnects_total", "counter", "Watch streams lost and re-established.")
            out += "devmesh_agent_reconnects_total \(controlPlane.watches.reduce(UInt64(0)) { $0 &+ $1.reconnects })\n"
            family("devmesh_agent_last_rebuild_microseconds", "gauge",
                   "Time the last route table build from agent rules took (merge, compile, publish).")
            out += "devmesh_agent_last_rebuild_microseconds \(controlPlane.lastRebuildMicroseconds)\n"
            family("devmesh_agent_rebuild_microseconds_total", "counter", "Time spent building route tables from agent rules.")
            out += "devmesh_agent_rebuild_microseconds_total \(controlPlane.rebuildMicrosecondsTotal)\n"
            family("devmesh_agent_synced", "gauge", "1 once every watch received a complete set of rules.")
            out += "devmesh_agent_synced \(controlPlane.synced ? 1 : 0)\n"
        }
        return out
    }
}

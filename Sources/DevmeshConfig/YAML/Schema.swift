/// The keys each mapping of the file may hold. Anything else is an error: a misspelt key
/// that is silently ignored is a limit or route that silently does not apply.
enum Schema {
    struct Section: Sendable {
        /// Where the section sits, for "it belongs under ..." hints (empty for the top level).
        let path: String
        let keys: [String]
    }

    static let topLevel = Section(path: "", keys: [
        "listen", "workers", "admin", "drain_timeout", "access_log",
        "limits", "http2", "timeouts", "routing", "services", "agent",
        "handover_socket", "batch_window_us",
    ])
    static let http2 = Section(path: "http2", keys: [
        "max_concurrent_streams", "initial_stream_window", "connection_window", "max_frame_size",
        "max_header_list_bytes", "max_header_count", "stream_send_buffer", "max_continuation_frames",
        "max_consecutive_empty_frames", "max_outbound_queued_frames", "rapid_reset_streams",
        "rapid_reset_percent", "rapid_reset_window",
    ])
    static let agent = Section(path: "agent", keys: ["address", "sync_timeout", "keepalive_interval", "keepalive_timeout"])
    static let limits = Section(path: "limits", keys: [
        "max_head_bytes", "max_header_count", "max_chunk_line_bytes", "max_trailer_bytes",
        "max_connections_per_worker", "max_requests_per_worker", "upstream_max_idle_per_endpoint",
        "upstream_max_connections_per_endpoint",
    ])
    static let timeouts = Section(path: "timeouts", keys: [
        "request_head", "downstream_idle", "upstream_connect", "upstream_response",
        "upstream_idle", "stream_idle",
    ])
    static let routing = Section(path: "routing", keys: ["key_names", "custom_headers"])
    static let service = Section(path: "services[]", keys: ["name", "hosts", "baseline", "routes", "protocol",
                                                                     "workload", "workload_port"])
    static let route = Section(path: "services[].routes[]", keys: ["key", "sandbox", "endpoints", "fallback", "protocol"])

    private static let all = [topLevel, limits, http2, timeouts, routing, service, route, agent]

    /// "unknown key (did you mean max_head_bytes?)", or "unknown key here (it belongs under
    /// timeouts)" when the key is valid in another section.
    static func unknownKeyProblem(_ key: String, in section: Section) -> String {
        if let suggestion = Spelling.closest(to: key, among: section.keys) {
            return "unknown key (did you mean \(suggestion)?)"
        }
        if let home = all.first(where: { $0.path != section.path && $0.keys.contains(key) }) {
            return home.path.isEmpty ? "unknown key here (it belongs at the top level)"
                : "unknown key here (it belongs under \(home.path))"
        }
        return "unknown key (expected one of: \(section.keys.joined(separator: ", ")))"
    }
}

/// "Did you mean" suggestions by edit distance.
enum Spelling {
    /// The candidate nearest to `word` if it is close enough to be a likely typo: at most a
    /// third of the word's length in edits (and at least 2), so `listeners` finds `listen`
    /// but `foo` finds nothing.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let limit = max(2, word.count / 3)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(word.lowercased(), candidate)
            if distance <= limit && distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Levenshtein distance (insertions, deletions, substitutions), two rows at a time.
    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        if left.isEmpty { return right.count }
        var previous = Array(0...right.count)
        var current = [Int](repeating: 0, count: right.count + 1)
        for i in 1...left.count {
            current[0] = i
            for j in stride(from: 1, through: right.count, by: 1) {
                let substitution = previous[j - 1] + (left[i - 1] == right[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[right.count]
    }
}

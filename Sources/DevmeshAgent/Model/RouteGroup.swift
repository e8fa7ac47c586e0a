/// Which sandboxes a route group sends its key to.
///
/// A sandbox is matched when it is named in `sandboxes`, or when `labels` is not empty and the
/// sandbox carries every label in it with a matching value. A value may contain `*`, which
/// matches any run of characters (as in Signadot's route-group label globs), so
/// `{"team": "pay*"}` selects every sandbox whose `team` label starts with `pay`.
public struct RouteGroupMatch: Equatable, Sendable {
    public var sandboxes: [String]
    public var labels: [String: String]

    public init(sandboxes: [String] = [], labels: [String: String] = [:]) {
        self.sandboxes = sandboxes
        self.labels = labels
    }

    public var isEmpty: Bool { sandboxes.isEmpty && labels.isEmpty }

    public func matches(_ sandbox: Sandbox) -> Bool {
        if sandboxes.contains(sandbox.name) { return true }
        guard !labels.isEmpty else { return false }
        return labels.allSatisfy { key, pattern in
            guard let value = sandbox.labels[key] else { return false }
            return LabelGlob.matches(pattern: pattern, value: value)
        }
    }
}

/// What a client asks for when it creates a route group.
public struct RouteGroupSpec: Equatable, Sendable {
    public var name: String
    public var routingKey: String?
    public var match: RouteGroupMatch

    public init(name: String, routingKey: String? = nil, match: RouteGroupMatch) {
        self.name = name
        self.routingKey = routingKey
        self.match = match
    }
}

/// A stored route group: one routing key for several sandboxes (routes-api.md §6: the key can
/// differ from every sandbox's own, and can send different baselines to different sandboxes).
public struct RouteGroup: Equatable, Sendable {
    public var name: String
    public var routingKey: String
    public var match: RouteGroupMatch
    public var revision: UInt64
    public var createdAt: Int64

    public init(name: String, routingKey: String, match: RouteGroupMatch, revision: UInt64, createdAt: Int64) {
        self.name = name
        self.routingKey = routingKey
        self.match = match
        self.revision = revision
        self.createdAt = createdAt
    }

    public var routingHeader: String { "baggage: sd-routing-key=\(routingKey)" }
}

/// `*` globs over label values: `*` matches any run of characters (empty included); every other
/// character matches itself.
enum LabelGlob {
    static func matches(pattern: String, value: String) -> Bool {
        let pattern = Array(pattern.utf8)
        let value = Array(value.utf8)
        // Iterative glob with one backtrack point: O(pattern × value) at worst, no recursion.
        var p = 0
        var v = 0
        var star = -1
        var resume = 0
        while v < value.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = v
                p += 1
            } else if p < pattern.count, pattern[p] == value[v] {
                p += 1
                v += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                v = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

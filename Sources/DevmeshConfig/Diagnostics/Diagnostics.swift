/// Where a value came from, for error messages: a file and line plus a key path, or a flag.
struct Location: Sendable {
    var source: String?
    var line: Int?
    var path: String

    /// A command-line flag and its value: `--route "abc"`.
    static func flag(_ name: String, value: String? = nil) -> Location {
        Location(source: nil, line: nil, path: value.map { "\(name) \"\($0)\"" } ?? name)
    }
}

/// Collects problems while a configuration is decoded, so that decoding can go on after the
/// first one and report them all. Decoders return `nil` for a value they reported as bad;
/// the caller then skips checks that need it, which keeps one mistake from causing several
/// follow-on reports.
final class Diagnostics {
    private var issues: [ConfigError.Issue] = []

    var isEmpty: Bool { issues.isEmpty }

    func report(_ problem: String, at location: Location) {
        issues.append(ConfigError.Issue(source: location.source, line: location.line,
                                        path: location.path, problem: problem))
    }

    /// Reports a problem found by one of the syntax parsers.
    func report(_ problem: SyntaxProblem, at location: Location) {
        report(problem.message, at: location)
    }

    /// The collected problems as one error, or `nil` when there are none.
    func error() -> ConfigError? {
        guard !issues.isEmpty else { return nil }
        // Stable sort by line: decoding visits keys in schema order, the operator reads the
        // file top to bottom.
        let sorted = issues.enumerated().sorted { lhs, rhs in
            let left = lhs.element.line ?? Int.max
            let right = rhs.element.line ?? Int.max
            return left != right ? left < right : lhs.offset < rhs.offset
        }.map(\.element)
        let cap = ConfigError.maxReportedIssues
        return ConfigError(issues: Array(sorted.prefix(cap)), omittedCount: max(0, sorted.count - cap))
    }
}

/// Why one scalar (an address, a duration, a name) is malformed. The syntax parsers throw it
/// without knowing where the text came from; the caller adds the location.
struct SyntaxProblem: Error, Sendable, Equatable {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}

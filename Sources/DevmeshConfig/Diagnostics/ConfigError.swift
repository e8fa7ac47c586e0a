/// Everything wrong with a configuration, as one typed error.
///
/// Loading does not stop at the first problem: the loader checks the whole file and reports
/// every problem it finds (up to `ConfigError.maxReportedIssues`), sorted by line, so an
/// operator fixes a file in one pass. `description` is the text to print: one line per issue.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One problem at one place.
    public struct Issue: Sendable, Equatable, CustomStringConvertible {
        /// The file as it was named to the loader, or `nil` for command-line flags.
        public var source: String?
        /// 1-based line in `source`, when the YAML parser knows it.
        public var line: Int?
        /// Where in the document: a key path such as `services[0].routes[1].endpoints[0]`, or a
        /// flag such as `--route "abc"`. Empty for problems with the whole file.
        public var path: String
        /// What is wrong, and where it helps, how to fix it.
        public var problem: String

        public init(source: String?, line: Int?, path: String, problem: String) {
            self.source = source
            self.line = line
            self.path = path
            self.problem = problem
        }

        /// `config.yaml:14: services[0].routes[1].endpoints[0]: port 99999 is out of range (1-65535)`
        public var description: String {
            var text = ""
            if let source {
                text += source
                if let line { text += ":\(line)" }
                text += ": "
            }
            if !path.isEmpty { text += "\(path): " }
            return text + problem
        }
    }

    /// At least one issue, in line order (issues without a line keep the order found).
    public var issues: [Issue]
    /// How many problems were found beyond `issues` (reporting stops at a cap so that one
    /// systematic mistake does not print a thousand lines).
    public var omittedCount: Int

    /// The cap on reported issues.
    public static let maxReportedIssues = 20

    public init(issues: [Issue], omittedCount: Int = 0) {
        precondition(!issues.isEmpty, "a ConfigError carries at least one issue")
        self.issues = issues
        self.omittedCount = omittedCount
    }

    init(_ issue: Issue) {
        self.init(issues: [issue])
    }

    /// The first issue: what to show when there is room for only one line.
    public var first: Issue { issues[0] }

    public var description: String {
        var lines = issues.map(\.description)
        if omittedCount > 0 {
            lines.append("(\(omittedCount) more problem\(omittedCount == 1 ? "" : "s") not shown)")
        }
        return lines.joined(separator: "\n")
    }
}

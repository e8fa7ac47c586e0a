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
            return Self.singleLine(text + problem)
        }

        /// Keeps an issue on one line whatever the file held: problems quote configuration
        /// text, and a YAML scalar may contain line breaks (`"10s\nx"`, or a plain scalar that
        /// continues on the next line). Control characters are shown escaped instead.
        static func singleLine(_ text: String) -> String {
            guard text.unicodeScalars.contains(where: isControl) else { return text }
            var escaped = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                case "\t": escaped += "\\t"
                case _ where isControl(scalar): escaped += "\\u{\(String(scalar.value, radix: 16))}"
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return escaped
        }

        private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
            scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}"
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

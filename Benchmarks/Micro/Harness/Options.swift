import Glibc

/// The command line of `devmesh-microbench` (hand-parsed: the executable depends on the pure
/// modules only).
struct Options {
    enum Mode {
        /// Timed runs: the human table, optionally JSON.
        case measure
        /// Allocation budgets: one quick untimed run per scenario, exit 1 when over budget.
        case check(budgetsPath: String)
        /// Callgrind client requests around each scenario's loop.
        case instructions
        case list
        case help
    }

    var mode = Mode.measure
    var filter: String?
    var iterations: Int?
    var runs = 5
    var jsonPath: String?

    static let usage = """
        usage: devmesh-microbench [--filter SUBSTRING] [--iterations N] [--runs N] [--json FILE]
               devmesh-microbench --check Benchmarks/Thresholds/allocations.json [--filter SUBSTRING]
               devmesh-microbench --instructions [--filter SUBSTRING] [--iterations N]   (under callgrind)
               devmesh-microbench --list

          --filter S      only scenarios whose name contains S
          --iterations N  operations per run, for every scenario (default: each scenario's own)
          --runs N        timed runs per scenario; ns/op is their median, with min and max (default 5)
          --json FILE     also write the results as JSON
          --check FILE    count allocations per operation and compare with the budgets in FILE;
                          exits 1 naming every scenario over (or without) its budget
          --instructions  wrap each scenario's loop in callgrind collection and dumps (see
                          scripts/microbench.sh, which runs this under valgrind)
          --list          print the scenarios and what one operation is
        Build with -c release for timings; allocation counts are the same in debug.
        """

    enum ParseError: Error, CustomStringConvertible {
        case missingValue(String)
        case notAPositiveNumber(option: String, value: String)
        case unknown(String)

        var description: String {
            switch self {
            case .missingValue(let option): "\(option) needs a value"
            case .notAPositiveNumber(let option, let value): "\(option): \(value) is not a positive whole number"
            case .unknown(let argument): "unknown argument \(argument)"
            }
        }
    }

    static func parse(_ arguments: [String]) throws(ParseError) -> Options {
        var options = Options()
        var index = 0
        func value(_ option: String) throws(ParseError) -> String {
            index += 1
            guard index < arguments.count else { throw .missingValue(option) }
            return arguments[index]
        }
        func positive(_ option: String) throws(ParseError) -> Int {
            let text = try value(option)
            guard let number = Int(text), number > 0 else { throw .notAPositiveNumber(option: option, value: text) }
            return number
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--filter": options.filter = try value(argument)
            case "--iterations": options.iterations = try positive(argument)
            case "--runs": options.runs = try positive(argument)
            case "--json": options.jsonPath = try value(argument)
            case "--check": options.mode = .check(budgetsPath: try value(argument))
            case "--instructions": options.mode = .instructions
            case "--list": options.mode = .list
            case "-h", "--help": options.mode = .help
            default: throw .unknown(argument)
            }
            index += 1
        }
        return options
    }
}

/// Writes one line to standard error (fd 2 directly: the C `stderr` global is mutable state
/// that strict concurrency checking rejects).
func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}

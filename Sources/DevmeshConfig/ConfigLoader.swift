import Foundation
import Yams

/// Reads and validates a configuration file. This is the slow path (startup and reload);
/// it may allocate freely, and reports every problem it finds in one `ConfigError`.
public enum ConfigLoader {
    /// Files larger than this are refused before parsing: a real configuration is a few KiB,
    /// and a YAML parser given a runaway file can use a lot of memory.
    public static let maxFileBytes = 4 * 1_048_576

    /// Loads the file at `path`. Error messages name the file as `path` was written.
    public static func load(path: String) throws(ConfigError) -> ProxyConfiguration {
        try parse(yaml: readFile(path), source: path)
    }

    /// Parses and validates YAML text. `source` names it in error messages (a file name).
    public static func parse(yaml: String, source: String) throws(ConfigError) -> ProxyConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(YAMLErrorMapping.issue(for: error, yaml: yaml, source: source))
        }
        guard let root else {
            throw ConfigError(.init(source: source, line: nil, path: "",
                                    problem: "the file is empty (at least 'services' is required)"))
        }
        let diagnostics = Diagnostics()
        let decoded = ConfigDecoder(diagnostics: diagnostics).decode(YAMLValue(node: root, path: "", source: source))
        if let error = diagnostics.error() { throw error }
        guard let decoded else {
            // The decoder returns nil only after reporting; reaching this is a decoder bug.
            preconditionFailure("ConfigDecoder returned no configuration and reported no problem")
        }
        return decoded
    }

    static func readFile(_ path: String) throws(ConfigError) -> String {
        func failure(_ problem: String) -> ConfigError {
            ConfigError(.init(source: path, line: nil, path: "", problem: problem))
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw failure("no such file")
        }
        if isDirectory.boolValue { throw failure("is a directory, not a configuration file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw failure("cannot be read (check its permissions)")
        }
        guard data.count <= maxFileBytes else {
            throw failure("is \(data.count) bytes; a configuration file may be at most \(Quantity.bytes(maxFileBytes))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw failure("is not valid UTF-8 text")
        }
        return text
    }
}

/// Yams errors, reduced to file:line: problem. Their own descriptions embed a snippet of the
/// document and, for duplicate keys, the whole document, which is too much for a log line.
enum YAMLErrorMapping {
    static func issue(for error: any Error, yaml: String, source: String) -> ConfigError.Issue {
        func issue(_ line: Int?, _ problem: String) -> ConfigError.Issue {
            ConfigError.Issue(source: source, line: line, path: "", problem: problem)
        }
        guard let yamlError = error as? YamlError else {
            return issue(nil, "cannot parse the YAML: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text), " } ?? ""
            return issue(mark.line, "invalid YAML: \(prefix)\(problem)")
        case .reader(let problem, let offset, _, _):
            let line = offset.map { characterOffset in
                1 + yaml.prefix(characterOffset).reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
            }
            return issue(line, "invalid YAML text: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return issue(context.mark.line, "duplicate key \(keys) in one mapping (each key may appear once)")
        default:
            return issue(nil, "cannot parse the YAML: \(yamlError)")
        }
    }
}

import Yams

/// A YAML node together with its key path and source file, so every accessor can report a
/// problem with the place it is at. Accessors return `nil` after reporting; they never throw,
/// so decoding continues and collects every problem in the file.
struct YAMLValue {
    let node: Node
    /// `services[0].routes[1].endpoints[0]`; empty for the document root.
    let path: String
    let source: String

    var location: Location {
        Location(source: source, line: node.mark?.line, path: path)
    }

    /// A plain `~`, `null` or nothing at all: YAML's ways of writing "no value" (YAML 1.2
    /// §10.3.2). A quoted `"null"` is the string null.
    var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How the node reads in a message: "a mapping", "a list", "a value".
    var kindDescription: String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar, .alias: "a single value"
        }
    }

    func child(_ key: String, _ node: Node) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? key : "\(path).\(key)", source: source)
    }

    func element(_ index: Int, _ node: Node) -> YAMLValue {
        YAMLValue(node: node, path: "\(path)[\(index)]", source: source)
    }

    /// The text of a scalar. Yams' type guessing (YAML 1.1 `off` = false, `0123` = 83) is
    /// deliberately not used: every key interprets its own text, so a routing key `1e3` or an
    /// access log `off` mean what they say.
    func scalar(_ diagnostics: Diagnostics, expecting what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            diagnostics.report("expected \(what), found \(kindDescription)", at: location)
            return nil
        }
        return scalar.string
    }

    /// The elements of a list. A single value counts as a list of one, so `baseline:
    /// 127.0.0.1:9001` and `baseline: [127.0.0.1:9001]` mean the same (docs/configuration.md).
    func list(_ diagnostics: Diagnostics, of what: String) -> [YAMLValue]? {
        switch node {
        case .sequence(let sequence):
            return sequence.enumerated().map { element($0.offset, $0.element) }
        case .scalar:
            return [self]
        case .mapping, .alias:
            diagnostics.report("expected a list of \(what) or a single one, found \(kindDescription)",
                               at: location)
            return nil
        }
    }

    /// The entries of a mapping whose keys must all be in `schema`. Unknown keys are reported
    /// with a suggestion; the known ones come back for the caller to read.
    func mapping(_ diagnostics: Diagnostics, schema: Schema.Section) -> YAMLMapping? {
        guard case .mapping(let mapping) = node else {
            let name = path.isEmpty ? "the top level " : ""
            diagnostics.report("\(name)must be a mapping of keys (\(schema.keys.joined(separator: ", "))), "
                               + "found \(kindDescription)", at: location)
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else {
                diagnostics.report("a key must be a plain name, found \(YAMLValue(node: key, path: path, source: source).kindDescription)",
                                   at: Location(source: source, line: key.mark?.line, path: path))
                continue
            }
            let name = keyScalar.string
            guard schema.keys.contains(name) else {
                diagnostics.report(Schema.unknownKeyProblem(name, in: schema),
                                   at: child(name, key).location)
                continue
            }
            entries[name] = (key, value)
        }
        return YAMLMapping(owner: self, entries: entries)
    }
}

/// The known entries of one mapping.
struct YAMLMapping {
    let owner: YAMLValue
    fileprivate let entries: [String: (key: Node, value: Node)]

    /// The value of `key`, or `nil` when it is absent. A key written with no value is reported
    /// (and `nil` returned): silently taking the default would hide a half-finished edit.
    func optional(_ key: String, _ diagnostics: Diagnostics) -> YAMLValue? {
        guard let entry = entries[key] else { return nil }
        let value = owner.child(key, entry.value)
        if value.isNull {
            // Point at the key: an empty value's mark is where the next token starts.
            diagnostics.report("has no value (remove the key to use the default)",
                               at: owner.child(key, entry.key).location)
            return nil
        }
        return value
    }

    /// The value of a key that must be present.
    func required(_ key: String, _ diagnostics: Diagnostics) -> YAMLValue? {
        guard entries[key] != nil else {
            diagnostics.report("missing required key '\(key)'", at: owner.location)
            return nil
        }
        return optional(key, diagnostics)
    }
}

/// Where the proxy writes one JSON line per request.
public enum AccessLogTarget: Sendable, Hashable, CustomStringConvertible {
    /// No access log (the default: logging costs CPU on every request).
    case off
    /// Standard output, for containers whose runtime collects stdout.
    case stdout
    /// Append to this absolute file path (opened at startup and again on every reload).
    case file(path: String)

    public var description: String {
        switch self {
        case .off: "off"
        case .stdout: "stdout"
        case .file(let path): path
        }
    }
}

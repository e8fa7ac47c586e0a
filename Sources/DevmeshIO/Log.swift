import Glibc

/// Operator-facing log lines on stderr, prefixed `devmesh:` (the proxy's and the agent's; the
/// integration suite reads the `listening on` / `agent http on` lines to learn the ports). Bounded: a message longer than
/// `maxLineBytes` is cut (a log line is never allowed to become an amplification vector), and
/// never used per request (the access log is separate and buffered).
public enum Log {
    public static let maxLineBytes = 2048

    public static func info(_ message: String) { write("devmesh: " + message) }
    public static func warning(_ message: String) { write("devmesh: warning: " + message) }
    public static func error(_ message: String) { write("devmesh: error: " + message) }

    private static func write(_ line: String) {
        var bytes = Array(line.utf8.prefix(maxLineBytes))
        bytes.append(0x0A)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

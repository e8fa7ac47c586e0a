import Glibc

/// Operator-facing lines on stderr, prefixed `devmesh:` like the proxy's (the integration suite
/// reads the `agent http on` / `agent grpc on` lines to learn the ports). Bounded per line.
public enum AgentLog {
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
                // SAFETY: offset < raw.count (loop condition); the line is never empty (newline).
                let written = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

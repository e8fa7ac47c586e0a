/// `handover_socket` / `--handover-socket`: where a running proxy offers its listening sockets
/// to the next devmesh started with the same path (binary upgrade without a refused
/// connection). A unix socket path: absolute (two processes started from different
/// directories must name the same file) and short enough for `sockaddr_un` (107 bytes).
enum HandoverSocketSyntax {
    /// `sizeof(sockaddr_un.sun_path)` less its terminating NUL.
    static let maxPathBytes = 107

    static func path(_ text: String) throws(SyntaxProblem) -> String {
        guard text.hasPrefix("/") else {
            throw SyntaxProblem("'\(text)' is not an absolute path (a unix socket path starting with /)")
        }
        guard !text.hasSuffix("/") else { throw SyntaxProblem("'\(text)' names a directory, not a socket file") }
        guard !text.utf8.contains(0) else { throw SyntaxProblem("the path contains a NUL byte") }
        let length = text.utf8.count
        guard length <= maxPathBytes else {
            throw SyntaxProblem("the path is \(length) bytes; a unix socket path holds at most \(maxPathBytes)")
        }
        return text
    }
}

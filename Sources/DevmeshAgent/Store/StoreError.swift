/// A storage failure, with what the operator should know ("cannot write /data/wal.log: No space
/// left on device"). At start it stops the agent; on a write it becomes a 503 and nothing changes.
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

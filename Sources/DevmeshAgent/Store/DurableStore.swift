import DevmeshRoutesAPI
import Glibc

/// The agent's durable state: a write-ahead log plus a snapshot, in one data directory.
///
/// ```
/// DIR/LOCK           flock'd while an agent runs (two agents on one directory are refused)
/// DIR/snapshot.json  the whole state as of sequence S (written to .tmp, fsync'd, renamed)
/// DIR/wal.log        records with sequence > S, in order (LogRecord)
/// ```
///
/// **Acknowledged means durable.** `commit` appends the record and `fdatasync`s the log before
/// it applies the change in memory and returns; only then does the API answer 2xx. After
/// `kill -9` or a power cut, `open` rebuilds exactly the committed prefix: the snapshot, then
/// every whole, checksummed record after it. A torn tail (the write that was in flight) is cut.
///
/// **Compaction** keeps the log short: when it passes `compactionThreshold` bytes the state is
/// written as a new snapshot (tmp file, fsync, rename, fsync of the directory) and the log is
/// truncated. A crash between the rename and the truncation leaves records the snapshot already
/// holds; their sequence numbers (≤ S) make replay skip them.
///
/// **A failed write** is undone (the log is cut back to its last good length) and reported; if
/// even that fails, or `fdatasync` fails (after which the kernel's page cache can no longer be
/// trusted), the store refuses every later write until restart instead of risking a log with a
/// hole in it.
///
/// Confined to the agent's control thread.
public final class DurableStore {
    public static let defaultCompactionThreshold = 1 << 20

    public let directory: String
    public private(set) var state: AgentState
    public let recovery: RecoveryReport
    private let compactionThreshold: Int
    private let lockFD: Int32
    private let logFD: Int32
    private var logLength: Int
    private var failure: StoreError?
    private var closed = false

    var logPath: String { "\(directory)/wal.log" }
    var snapshotPath: String { "\(directory)/snapshot.json" }

    /// What `open` found and repaired.
    public struct RecoveryReport: Equatable, Sendable {
        public var snapshotSequence: UInt64 = 0
        public var recordsReplayed = 0
        /// Records already in the snapshot (a compaction was cut short by a crash).
        public var recordsSkipped = 0
        /// Bytes cut from the end of the log (a write torn by a crash, or damage).
        public var bytesDiscarded = 0
    }

    /// Opens (creating if needed) the data directory and recovers the committed state.
    public init(directory: String, compactionThreshold: Int = DurableStore.defaultCompactionThreshold)
        throws(StoreError) {
        self.directory = directory
        self.compactionThreshold = compactionThreshold
        try FileIO.makeDirectory(directory)
        let lockPath = "\(directory)/LOCK"
        lockFD = try FileIO.open(lockPath, flags: O_RDWR | O_CREAT)
        do throws(StoreError) {
            try FileIO.lockExclusively(lockFD, path: lockPath)
            // A snapshot that was being written when the process died is incomplete by definition.
            unlink("\(directory)/snapshot.json.tmp")
            var report = RecoveryReport()
            var state = try DurableStore.loadSnapshot("\(directory)/snapshot.json")
            report.snapshotSequence = state.sequence
            let logPath = "\(directory)/wal.log"
            let created = !FileIO.exists(logPath)
            logFD = try FileIO.open(logPath, flags: O_RDWR | O_CREAT | O_APPEND)
            do throws(StoreError) {
                if created { try FileIO.syncDirectory(directory) }
                let bytes = try FileIO.readAll(logFD, path: logPath)
                let valid = try DurableStore.replay(bytes, into: &state, report: &report)
                if valid < bytes.count {
                    report.bytesDiscarded = bytes.count - valid
                    try FileIO.truncate(logFD, to: valid, path: logPath)
                    try FileIO.syncData(logFD, path: logPath)
                }
                logLength = valid
                self.state = state
                recovery = report
            } catch {
                Glibc.close(logFD)
                throw error
            }
        } catch {
            Glibc.close(lockFD)
            throw error
        }
    }

    deinit {
        close()
    }

    /// Releases the files and the directory lock; later writes are refused.
    public func close() {
        guard !closed else { return }
        closed = true
        failure = failure ?? StoreError("the store is closed")
        Glibc.close(logFD)
        Glibc.close(lockFD)
    }

    /// Bytes in the log now (tests and metrics).
    public var logBytes: Int { logLength }

    // MARK: Writing

    /// Makes `mutation` durable, then applies it. Returns the new state. On error nothing changed.
    @discardableResult
    public func commit(_ mutation: StoreMutation) throws(StoreError) -> AgentState {
        if let failure {
            throw StoreError("the store stopped accepting writes after an earlier failure (\(failure)); restart the agent")
        }
        let record = LogRecord.frame(LogRecord.encode(sequence: state.sequence + 1, mutation))
        do {
            try FileIO.writeAll(logFD, record, path: logPath)
        } catch {
            // Cut the partial record so that later records never follow garbage.
            do {
                try FileIO.truncate(logFD, to: logLength, path: logPath)
            } catch {
                self.failure = error
            }
            throw error
        }
        do {
            try FileIO.syncData(logFD, path: logPath)
        } catch {
            self.failure = error
            throw error
        }
        logLength += record.count
        state.apply(mutation)
        if logLength >= compactionThreshold {
            // The change is already durable in the log; a failed compaction only means a longer
            // log, retried on the next commit.
            try? compact()
        }
        return state
    }

    /// Writes the current state as the snapshot and empties the log.
    public func compact() throws(StoreError) {
        if let failure { throw failure }
        let temporary = snapshotPath + ".tmp"
        let fd = try FileIO.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try FileIO.writeAll(fd, Array(DurableStore.snapshotJSON(state).serialized().utf8), path: temporary)
            try FileIO.syncData(fd, path: temporary)
        } catch {
            Glibc.close(fd)
            unlink(temporary)
            throw error
        }
        Glibc.close(fd)
        try FileIO.rename(temporary, snapshotPath)
        try FileIO.syncDirectory(directory)
        do {
            try FileIO.truncate(logFD, to: 0, path: logPath)
            try FileIO.syncData(logFD, path: logPath)
        } catch {
            // The snapshot holds everything; records left in the log are skipped on replay, but a
            // log in an unknown state must not be appended to.
            self.failure = error
            throw error
        }
        logLength = 0
    }

    // MARK: Recovery

    static func loadSnapshot(_ path: String) throws(StoreError) -> AgentState {
        guard FileIO.exists(path) else { return AgentState() }
        let fd = try FileIO.open(path, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        let bytes = try FileIO.readAll(fd, path: path)
        do {
            return try parseSnapshot(bytes)
        } catch {
            // Written by rename only, so never torn: damage needs a person, not a guess.
            throw StoreError("\(path) is damaged (\(error)); restore it from a backup or move it away to start empty")
        }
    }

    static func snapshotJSON(_ state: AgentState) -> JSONValue {
        ["format": "devmesh-agent-snapshot/1", "sequence": .number(Double(state.sequence)),
         "sandboxes": .array(state.sandboxes.keys.sorted().map { state.sandboxes[$0]!.storedJSON }),
         "routeGroups": .array(state.routeGroups.keys.sorted().map { state.routeGroups[$0]!.storedJSON })]
    }

    static func parseSnapshot(_ bytes: [UInt8]) throws(JSONMappingError) -> AgentState {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw JSONMappingError(path: "", message: error.description)
        }
        let fields = try JSONFields(value, path: "snapshot")
        guard try fields.string("format") == "devmesh-agent-snapshot/1" else {
            throw JSONMappingError(path: "snapshot.format", message: "unknown format")
        }
        var state = AgentState()
        state.sequence = UInt64(clamping: try fields.integer("sequence"))
        for element in try fields.member("sandboxes")?.arrayValue ?? [] {
            let sandbox = try Sandbox(storedJSON: element)
            state.sandboxes[sandbox.name] = sandbox
        }
        for element in try fields.member("routeGroups")?.arrayValue ?? [] {
            let group = try RouteGroup(storedJSON: element)
            state.routeGroups[group.name] = group
        }
        return state
    }

    /// Applies the log's records after the snapshot's sequence; returns the length of the valid
    /// prefix (where the first bad or out-of-sequence record starts).
    static func replay(_ bytes: [UInt8], into state: inout AgentState, report: inout RecoveryReport)
        throws(StoreError) -> Int {
        let (payloads, _) = LogRecord.scan(bytes)
        var valid = 0
        for payload in payloads {
            guard let (sequence, mutation) = try? LogRecord.decode(payload) else { break }
            if sequence <= state.sequence {
                report.recordsSkipped += 1
            } else if sequence == state.sequence + 1 {
                state.apply(mutation)
                report.recordsReplayed += 1
            } else {
                break // a gap: nothing after it can be trusted to follow in order
            }
            valid += LogRecord.headerLength + payload.count
        }
        return valid
    }
}

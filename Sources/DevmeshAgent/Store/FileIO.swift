import Glibc

/// The few file operations the store needs, with errno turned into a `StoreError` that names the
/// file. Blocking I/O: the store runs on the agent's control loop, where a write waits for the
/// disk anyway (it must be durable before it is acknowledged).
enum FileIO {
    static func errorText() -> String {
        String(cString: strerror(errno))
    }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(StoreError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw StoreError("cannot open \(path): \(errorText())")
        }
    }

    static func makeDirectory(_ path: String) throws(StoreError) {
        var components: [Substring] = []
        var prefix = path.hasPrefix("/") ? "/" : ""
        components = path.split(separator: "/")
        for component in components {
            prefix += component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw StoreError("cannot create directory \(prefix): \(errorText())")
            }
            prefix += "/"
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError("\(path) is not a directory")
        }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The whole file (the log and the snapshot are small: compaction bounds the log).
    static func readAll(_ fd: Int32, path: String) throws(StoreError) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError("cannot stat \(path): \(errorText())") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            // SAFETY: offset < bytes.count (loop condition): the kernel writes at most
            // raw.count - offset bytes from raw.baseAddress + offset, inside the array.
            let count = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError("cannot read \(path): \(errorText())")
            }
            if count == 0 { break }
            offset += count
        }
        return Array(bytes[0..<offset])
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(StoreError) {
        var offset = 0
        while offset < bytes.count {
            // SAFETY: offset < bytes.count (loop condition), so the range read is inside the array.
            let count = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError("cannot write \(path): \(errorText())")
            }
            offset += count
        }
    }

    /// Data (and the size, which fdatasync includes) on stable storage.
    static func syncData(_ fd: Int32, path: String) throws(StoreError) {
        guard fdatasync(fd) == 0 else { throw StoreError("cannot sync \(path): \(errorText())") }
    }

    /// A directory's entries (a created or renamed file) on stable storage.
    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError("cannot sync directory \(path): \(errorText())") }
    }

    static func truncate(_ fd: Int32, to length: Int, path: String) throws(StoreError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw StoreError("cannot truncate \(path): \(errorText())") }
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        guard Glibc.rename(from, to) == 0 else { throw StoreError("cannot rename \(from) to \(to): \(errorText())") }
    }

    /// An exclusive advisory lock held for the life of `fd`: two agents on one data directory
    /// would interleave their logs.
    static func lockExclusively(_ fd: Int32, path: String) throws(StoreError) {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK {
                throw StoreError("\(path) is locked: another devmesh agent is using this data directory")
            }
            throw StoreError("cannot lock \(path): \(errorText())")
        }
    }
}

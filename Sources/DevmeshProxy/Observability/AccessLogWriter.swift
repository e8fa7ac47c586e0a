import DevmeshConfig
import DevmeshIO
import Glibc

/// The optional access log: one JSON object per line, buffered per worker and written in whole
/// lines (a flush when the buffer passes `flushThreshold`, and from the worker's periodic task),
/// so logging costs no syscall per request. Files are opened O_APPEND, which keeps lines from
/// several workers whole.
final class AccessLogWriter {
    private let fd: Int32
    private let ownsFD: Bool
    private var pending: [UInt8] = []
    private let flushThreshold = 32 * 1024

    init?(target: AccessLogTarget) {
        switch target {
        case .off:
            return nil
        case .stdout:
            fd = 1
            ownsFD = false
        case .file(let path):
            let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard opened >= 0 else {
                Log.error("cannot open access log \(path): \(Errno.current); access log disabled")
                return nil
            }
            fd = opened
            ownsFD = true
        }
        pending.reserveCapacity(flushThreshold + 4096)
    }

    deinit {
        flush()
        if ownsFD { Syscall.close(fd) }
    }

    struct Entry {
        var method: UnsafeRawBufferPointer
        var path: UnsafeRawBufferPointer
        var status: Int
        var routingKey: UnsafeRawBufferPointer?
        var destination: UnsafeRawBufferPointer
        var upstream: UnsafeRawBufferPointer
        var failure: UpstreamFailure?
        var durationMicroseconds: Int64
    }

    func append(_ entry: Entry) {
        pending.append(contentsOf: #"{"method":""#.utf8)
        appendEscaped(entry.method)
        pending.append(contentsOf: #"","path":""#.utf8)
        appendEscaped(entry.path)
        pending.append(contentsOf: #"","status":"#.utf8)
        appendNumber(Int64(entry.status))
        pending.append(contentsOf: #","routing_key":"#.utf8)
        if let key = entry.routingKey {
            pending.append(0x22)
            appendEscaped(key)
            pending.append(0x22)
        } else {
            pending.append(contentsOf: "null".utf8)
        }
        pending.append(contentsOf: #","destination":""#.utf8)
        appendEscaped(entry.destination)
        pending.append(contentsOf: #"","upstream":""#.utf8)
        appendEscaped(entry.upstream)
        pending.append(contentsOf: #"","duration_us":"#.utf8)
        appendNumber(entry.durationMicroseconds)
        if let failure = entry.failure {
            pending.append(contentsOf: #","upstream_failure":""#.utf8)
            failure.slug.withUTF8Buffer { pending.append(contentsOf: $0) }
            pending.append(0x22)
        }
        pending.append(contentsOf: "}\n".utf8)
        if pending.count >= flushThreshold { flush() }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        pending.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// JSON string escaping on bytes: quotes, backslash and control bytes are escaped; other
    /// bytes pass as they are (paths are ASCII after HTTP/1 validation).
    private func appendEscaped(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            switch byte {
            case 0x22, 0x5C:
                pending.append(0x5C)
                pending.append(byte)
            case 0..<0x20, 0x7F:
                let digits: StaticString = "0123456789abcdef"
                for prefix in "\\u00".utf8 { pending.append(prefix) }
                pending.append(digits.utf8Start[Int(byte >> 4)])
                pending.append(digits.utf8Start[Int(byte & 15)])
            default:
                pending.append(byte)
            }
        }
    }

    /// A decimal number, without building a String.
    private func appendNumber(_ value: Int64) {
        if value < 0 {
            pending.append(0x2D)
            appendNumber(value == .min ? .max : -value)
            return
        }
        var divisor: Int64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            pending.append(0x30 + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}

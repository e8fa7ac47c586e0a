import ArgumentParser
import DevmeshAgent
import DevmeshRoutesAPI
import Glibc

/// Exit statuses of the agent client commands, so scripts can tell outcomes apart.
enum CLIExit {
    /// The agent refused the request (invalid input, a name or key already taken): fix the input.
    static let rejected = ExitCode(1)
    /// No such sandbox or route group.
    static let notFound = ExitCode(2)
    /// The agent could not be reached, failed, or did not speak the API: check --agent.
    static let unavailable = ExitCode(3)
    // 64 (EX_USAGE, from ArgumentParser): the command line itself is wrong.
}

/// Options every client subcommand shares.
struct AgentClientOptions: ParsableArguments {
    @Option(name: .customLong("agent"), help: "Agent URL (default: $DEVMESH_AGENT or http://127.0.0.1:7778).")
    var agentURL: String?
    @Flag(help: "Print JSON for scripts instead of tables.")
    var json = false
    @Option(help: "Seconds to wait for the agent.")
    var timeout: Double = 10

    func client() throws -> AgentClient {
        let url = agentURL ?? environment("DEVMESH_AGENT") ?? AgentClient.defaultURL
        do {
            return try AgentClient(url: url, timeoutSeconds: timeout)
        } catch {
            throw ValidationError("--agent: \(error)")
        }
    }

    /// Sends a request; prints the agent's error and exits with the matching status unless the
    /// answer is one of `expected`.
    func call(_ method: String, _ path: String, body: JSONValue? = nil, expected: Set<Int>) throws -> AgentReply {
        let reply: AgentReply
        do {
            reply = try client().send(method, path, body: body)
        } catch let error as AgentClientError {
            CLIOutput.error("\(error)")
            throw CLIExit.unavailable
        }
        guard expected.contains(reply.status) else {
            CLIOutput.error(reply.errorMessage)
            switch reply.status {
            case 404: throw CLIExit.notFound
            case 400..<500: throw CLIExit.rejected
            default: throw CLIExit.unavailable
            }
        }
        return reply
    }
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}

/// Output helpers: JSON for scripts, aligned tables for people, errors on stderr.
enum CLIOutput {
    static func error(_ message: String) {
        FileHandleStderr.write("devmesh: \(message)\n")
    }

    static func printJSON(_ value: JSONValue) {
        print(value.serialized(pretty: true))
    }

    /// Columns separated by two spaces, each as wide as its widest cell.
    static func printTable(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        for row in [header] + rows {
            var line = ""
            for (column, cell) in row.enumerated() {
                if column == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: widths[column] - cell.count + 2)
                }
            }
            print(line)
        }
    }

    static func workload(_ value: JSONValue?) -> String {
        let object = value?.objectValue
        return [object?["kind"], object?["namespace"], object?["name"]]
            .map { $0?.stringValue ?? "?" }.joined(separator: "/")
    }

    /// `8083->host:8083,host2:8083 9090->...`
    static func ports(_ value: JSONValue?) -> String {
        let mappings = value?.arrayValue ?? []
        if mappings.isEmpty { return "-" }
        return mappings.map { mapping in
            let object = mapping.objectValue
            let port = object?["workloadPort"]?.integer(in: 0...Int64(UInt32.max)) ?? 0
            let destinations = (object?["destinations"]?.arrayValue ?? []).map { destination in
                let location = destination.objectValue
                return "\(location?["host"]?.stringValue ?? "?"):\(location?["port"]?.integer(in: 0...65535) ?? 0)"
            }
            return "\(port)->\(destinations.joined(separator: ","))"
        }.joined(separator: " ")
    }

    static func age(_ value: JSONValue?) -> String {
        guard let created = value?.integer(in: 0...Int64.max) else { return "?" }
        let seconds = max(0, Timestamp.now() - created)
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<7200: return "\(seconds / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}

/// Parsers for the command-line shapes of workloads, ports and labels.
enum CLIParse {
    /// `KIND/NAMESPACE/NAME`.
    static func workload(_ text: String, flag: String) throws -> BaselineWorkload {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("\(flag) \(text): expected KIND/NAMESPACE/NAME, e.g. Deployment/hotrod/route")
        }
        return BaselineWorkload(kind: parts[0], namespace: parts[1], name: parts[2])
    }

    /// `[WORKLOAD:]PORT=HOST:PORT[,HOST:PORT...]`; the workload prefix picks the fork by name
    /// when there are several.
    static func port(_ text: String) throws -> (workload: String?, port: UInt32, destinations: [Location]) {
        guard let equals = text.firstIndex(of: "=") else {
            throw ValidationError("--port \(text): expected PORT=HOST:PORT, e.g. 8080=route-feature.hotrod.svc:8080")
        }
        let left = text[..<equals]
        var workload: String?
        var portText = left
        if let colon = left.lastIndex(of: ":") {
            workload = String(left[..<colon])
            portText = left[left.index(after: colon)...]
        }
        guard let port = UInt32(portText) else {
            throw ValidationError("--port \(text): \"\(portText)\" is not a port number")
        }
        var destinations: [Location] = []
        for item in text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false) {
            do {
                let (host, destinationPort) = try splitHostPort(String(item))
                destinations.append(Location(host: host, port: UInt32(destinationPort)))
            } catch {
                throw ValidationError("--port \(text): \"\(item)\" is not HOST:PORT ([IPv6]:PORT for IPv6)")
            }
        }
        return (workload, port, destinations)
    }

    static func splitHostPort(_ text: String) throws -> (String, UInt16) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { throw ValidationError("") }
            return (host, port)
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]),
              colon != text.startIndex else { throw ValidationError("") }
        return (String(text[..<colon]), port)
    }

    /// `KEY=VALUE`.
    static func labels(_ items: [String], flag: String) throws -> [String: String] {
        var labels: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "=") else {
                throw ValidationError("\(flag) \(item): expected KEY=VALUE")
            }
            let key = String(item[..<equals])
            guard labels[key] == nil else { throw ValidationError("\(flag): label \(key) is given twice") }
            labels[key] = String(item[item.index(after: equals)...])
        }
        return labels
    }

    /// The whole content of a file (or stdin for "-") as JSON.
    static func jsonFile(_ path: String) throws -> JSONValue {
        let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("--from-file \(path): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // SAFETY: chunk is a non-empty array; read writes at most its count.
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw ValidationError("--from-file \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= 1 << 20 else { throw ValidationError("--from-file \(path): larger than 1 MiB") }
        }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw ValidationError("--from-file \(path): \(error)")
        }
    }
}

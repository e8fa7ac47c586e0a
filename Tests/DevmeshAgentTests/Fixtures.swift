import DevmeshAgent
import DevmeshRoutesAPI
import Glibc
import XCTest

/// Builders and temporary directories shared by the agent tests.
enum Fixture {
    static func workload(_ name: String, kind: String = "Deployment", namespace: String = "hotrod") -> BaselineWorkload {
        BaselineWorkload(kind: kind, namespace: namespace, name: name)
    }

    static func fork(_ name: String, _ ports: [(UInt32, [String])] = [(8080, ["dest.svc:8080"])]) -> Fork {
        Fork(forkOf: workload(name), ports: ports.map { port, destinations in
            WorkloadPortMapping(workloadPort: port, destinations: destinations.map { text in
                let colon = text.lastIndex(of: ":")!
                return Location(host: String(text[..<colon]), port: UInt32(text[text.index(after: colon)...])!)
            })
        })
    }

    static func sandbox(_ name: String, key: String? = nil, labels: [String: String] = [:], forks: [Fork]) -> SandboxSpec {
        SandboxSpec(name: name, routingKey: key, labels: labels, forks: forks)
    }

    /// A fresh directory under the system temp dir, removed when the test ends.
    static func temporaryDirectory(_ test: XCTestCase) -> String {
        var template = Array("/tmp/devmesh-agent-test-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        test.addTeardownBlock { removeTree(path) }
        return path
    }

    static func removeTree(_ path: String) {
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name == "." || name == ".." { continue }
                let child = "\(path)/\(name)"
                var info = stat()
                if lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { removeTree(child) } else { unlink(child) }
            }
            closedir(directory)
        }
        rmdir(path)
    }

    static func readFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot write \(path)")
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// A service over a fresh store, with a fixed clock and seeded keys.
    static func service(_ test: XCTestCase, watchBuffer: Int = 64, directory: String? = nil) throws -> AgentService {
        let store = try DurableStore(directory: directory ?? temporaryDirectory(test))
        return AgentService(store: store, index: RulesIndex(watchBuffer: watchBuffer),
                            keys: RoutingKeyGenerator(random: SeededGenerator(seed: 42)), clock: { 1_700_000_000 })
    }
}

struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A generator that replays fixed values (to force key collisions).
struct ScriptedGenerator: RandomNumberGenerator {
    var values: [UInt64]
    var index = 0
    mutating func next() -> UInt64 {
        defer { index += 1 }
        return values[index % values.count]
    }
}

/// A readable one-line form of an op, for table-driven expectations: `ADD k Deployment/hotrod/a -> s`.
func describe(_ op: WorkloadRoutingRuleOp) -> String {
    guard let rule = op.route else { return op.op.description }
    let baseline = rule.baseline.map { "\($0.kind)/\($0.namespace)/\($0.name)" } ?? "-"
    return "\(op.op) \(rule.routingKey) \(baseline) -> \(rule.destinationSandbox?.name ?? "-")"
}

extension RuleWatch {
    func drainDescriptions() -> [String] {
        var out: [String] = []
        while let op = next() { out.append(describe(op)) }
        return out
    }
}

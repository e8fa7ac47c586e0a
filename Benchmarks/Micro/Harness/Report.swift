import FoundationEssentials

/// The human table and the `--json` document.
enum Report {
    /// True in a debug build, whose timings say nothing about production speed.
    static var isDebugBuild: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    static func printTable(_ measurements: [Measurement]) {
        let nameWidth = max(10, measurements.map(\.name.count).max() ?? 0)
        print(pad("scenario", nameWidth) + "  " + ["ns/op", "min", "max"].map { left($0, 10) }.joined(separator: " ")
              + "  " + left("allocs/op", 10) + "  " + left("iterations", 14))
        for m in measurements {
            let times = [m.median, m.minimum, m.maximum].map { left(format($0, decimals: 1), 10) }
            print(pad(m.name, nameWidth) + "  " + times.joined(separator: " ") + "  "
                  + left(format(m.allocationsPerOperation, decimals: 3), 10) + "  "
                  + left("\(m.runs) x \(m.iterations)", 14))
        }
        print("ns/op: median of \(measurements.first?.runs ?? 0) runs, with the fastest and slowest run."
              + (isDebugBuild ? " DEBUG BUILD: timings are not meaningful; use -c release." : ""))
    }

    struct Document: Encodable {
        struct Times: Encodable {
            let median: Double
            let min: Double
            let max: Double
        }
        struct Entry: Encodable {
            let name: String
            let iterations: Int
            let runs: Int
            let nsPerOp: Times
            let allocationsPerOp: Double

            enum CodingKeys: String, CodingKey {
                case name, iterations, runs
                case nsPerOp = "ns_per_op"
                case allocationsPerOp = "allocations_per_op"
            }
        }
        let build: String
        let scenarios: [Entry]
    }

    static func json(_ measurements: [Measurement]) -> String {
        let document = Document(
            build: isDebugBuild ? "debug" : "release",
            scenarios: measurements.map {
                Document.Entry(name: $0.name, iterations: $0.iterations, runs: $0.runs,
                               nsPerOp: .init(median: rounded($0.median), min: rounded($0.minimum),
                                              max: rounded($0.maximum)),
                               allocationsPerOp: $0.allocationsPerOperation)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain structs of numbers and strings cannot fail.
        let data = try! encoder.encode(document)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func format(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int(scaled / scale)
        guard decimals > 0 else { return "\(whole)" }
        let fraction = Int(abs(scaled) - abs(Double(whole)) * scale)
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: max(0, decimals - digits.count)) + digits
    }

    private static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
    static func left(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

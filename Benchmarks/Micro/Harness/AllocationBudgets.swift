import FoundationEssentials

/// `--check FILE`: the committed allocation budgets (Benchmarks/Thresholds/allocations.json)
/// and the verdict of one quick run of every scenario against them.
///
/// The check is about counts, not time: each scenario runs `quickIterations` operations after
/// a warm-up, and fails when it allocates more per operation than its budget. A scenario
/// without a budget fails too (a new scenario must state one), and so does a budget naming no
/// scenario (a renamed scenario must not leave a stale budget that checks nothing).
struct AllocationBudgets: Decodable {
    let description: String?
    let swift: String?
    let maxAllocationsPerOp: [String: Double]

    enum CodingKeys: String, CodingKey {
        case description, swift
        case maxAllocationsPerOp = "max_allocations_per_op"
    }

    enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String)
        case malformed(path: String, reason: String)

        var description: String {
            switch self {
            case .unreadable(let path): "cannot read \(path)"
            case .malformed(let path, let reason): "\(path) is not a budgets file: \(reason)"
            }
        }
    }

    static func load(path: String) throws(LoadError) -> AllocationBudgets {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path)
        }
        do {
            return try JSONDecoder().decode(AllocationBudgets.self, from: data)
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }

    /// Runs the check and prints one line per scenario. Returns the failures (empty = pass).
    func check(_ scenarios: [Scenario], everyScenarioSelected: Bool,
               iterationsOverride: Int?) -> [String] {
        var failures: [String] = []
        let nameWidth = max(10, scenarios.map(\.name.count).max() ?? 0)
        print(Report.pad("scenario", nameWidth) + "  " + Report.left("allocs/op", 10) + "  "
              + Report.left("budget", 8) + "  " + Report.left("iterations", 10) + "  verdict")
        for scenario in scenarios {
            let iterations = iterationsOverride ?? scenario.quickIterations
            let measured = Runner.countAllocations(scenario, iterations: iterations)
            let verdict: String
            if let budget = maxAllocationsPerOp[scenario.name] {
                if measured <= budget {
                    verdict = "ok"
                } else {
                    verdict = "OVER BUDGET"
                    failures.append("\(scenario.name): \(Report.format(measured, decimals: 3)) allocations/op, "
                                    + "budget \(Report.format(budget, decimals: 3))")
                }
                print(Report.pad(scenario.name, nameWidth) + "  "
                      + Report.left(Report.format(measured, decimals: 3), 10) + "  "
                      + Report.left(Report.format(budget, decimals: 1), 8) + "  "
                      + Report.left("\(iterations)", 10) + "  " + verdict)
            } else {
                failures.append("\(scenario.name): no budget in the thresholds file "
                                + "(measured \(Report.format(measured, decimals: 3)) allocations/op)")
                print(Report.pad(scenario.name, nameWidth) + "  "
                      + Report.left(Report.format(measured, decimals: 3), 10) + "  "
                      + Report.left("-", 8) + "  " + Report.left("\(iterations)", 10) + "  NO BUDGET")
            }
        }
        if everyScenarioSelected {
            let known = Set(scenarios.map(\.name))
            for name in maxAllocationsPerOp.keys.sorted() where !known.contains(name) {
                failures.append("\(name): budget for a scenario that does not exist")
            }
        }
        return failures
    }
}

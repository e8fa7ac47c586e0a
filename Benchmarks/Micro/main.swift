// devmesh-microbench: ns/op, allocations/op and instructions/op of the pure layers
// (DevmeshHTTP1, DevmeshRouting), and the allocation-budget check CI runs.
// See docs/benchmarks.md, "Microbenchmarks and allocation budgets".
import FoundationEssentials
import Glibc

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    printError("devmesh-microbench: \(error)\n\n\(Options.usage)")
    exit(2)
}

let scenarios = ScenarioCatalog.select(options.filter)
if scenarios.isEmpty {
    printError("devmesh-microbench: no scenario matches --filter \(options.filter ?? "")")
    exit(2)
}

switch options.mode {
case .help:
    print(Options.usage)

case .list:
    for scenario in scenarios {
        print("\(Report.pad(scenario.name, 32)) \(scenario.summary)")
    }

case .measure:
    var measurements: [Measurement] = []
    for scenario in scenarios {
        let iterations = options.iterations ?? scenario.iterations
        measurements.append(Runner.measure(scenario, iterations: iterations, runs: options.runs))
    }
    Report.printTable(measurements)
    if let path = options.jsonPath {
        do {
            try Data(Report.json(measurements).utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            printError("devmesh-microbench: cannot write \(path): \(error)")
            exit(1)
        }
    }

case .check(let path):
    // Debug builds keep generic and closure code unspecialised and allocate where release
    // builds do not (http1.rewrite_head: 12 per operation), so budgets hold for release only.
    if Report.isDebugBuild {
        printError("devmesh-microbench: --check needs a release build (swift build -c release "
                   + "--product devmesh-microbench); the budgets are release figures")
        exit(2)
    }
    let budgets: AllocationBudgets
    do {
        budgets = try AllocationBudgets.load(path: path)
    } catch {
        printError("devmesh-microbench: \(error)")
        exit(2)
    }
    let failures = budgets.check(scenarios, everyScenarioSelected: options.filter == nil,
                                 iterationsOverride: options.iterations)
    if failures.isEmpty {
        print("allocation budgets: all \(scenarios.count) scenarios within budget")
    } else {
        printError("allocation budgets: \(failures.count) failure(s)")
        for failure in failures { printError("  \(failure)") }
        exit(1)
    }

case .instructions:
    if !InstructionCount.run(scenarios, iterationsOverride: options.iterations) { exit(2) }
}

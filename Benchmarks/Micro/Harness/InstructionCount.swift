import CDevmeshAllocCounter

/// `--instructions`: instruction counts per operation, the repeatable figure (timings on a
/// shared 2-core VM move by tens of percent; instruction counts do not).
///
/// Meant to run under `valgrind --tool=callgrind --collect-atstart=no` (scripts/microbench.sh
/// does). For each scenario the fixtures are built and warmed up with collection off; then
/// collection is switched on for exactly `quickIterations` operations, and the counts are
/// dumped with the reason `devmesh-microbench <scenario> <iterations>`. Each dump's `totals:`
/// line divided by the iterations is instructions per operation (plus about ten for the loop
/// and the blackhole call).
enum InstructionCount {
    /// Every dump's reason starts with this; scripts/microbench.sh matches it.
    static let dumpReasonPrefix = "devmesh-microbench"

    /// Returns false when the client requests were compiled out (no Valgrind headers).
    static func run(_ scenarios: [Scenario], iterationsOverride: Int?) -> Bool {
        guard CDevmeshAllocCounter_callgrindRequestsCompiled() == 1 else {
            printError("--instructions needs the Valgrind client-request header (valgrind/callgrind.h) at build "
                       + "time; install valgrind (Debian: apt-get install valgrind) and rebuild")
            return false
        }
        if CDevmeshAllocCounter_runningOnValgrind() == 0 {
            printError("note: not running under valgrind --tool=callgrind; nothing is counted")
        }
        for scenario in scenarios {
            let iterations = iterationsOverride ?? scenario.quickIterations
            let workload = scenario.prepare()
            workload.run(Runner.warmUpIterations(for: iterations))
            CDevmeshAllocCounter_callgrindZeroStats()
            CDevmeshAllocCounter_callgrindToggleCollect()
            workload.run(iterations)
            CDevmeshAllocCounter_callgrindToggleCollect()
            "\(dumpReasonPrefix) \(scenario.name) \(iterations)".withCString {
                CDevmeshAllocCounter_callgrindDumpStats($0)
            }
            print("\(scenario.name): \(iterations) operations counted")
        }
        return true
    }
}

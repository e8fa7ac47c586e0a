import CDevmeshAllocCounter

/// What one scenario measured.
struct Measurement {
    let name: String
    /// Operations per run.
    let iterations: Int
    let runs: Int
    /// Nanoseconds per operation of each run, sorted ascending.
    let nanosecondsPerOperation: [Double]
    /// Heap allocations (malloc, calloc, realloc, memalign family) per operation, over all runs.
    let allocationsPerOperation: Double

    var median: Double {
        let sorted = nanosecondsPerOperation
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    var minimum: Double { nanosecondsPerOperation.first ?? 0 }
    var maximum: Double { nanosecondsPerOperation.last ?? 0 }
}

/// Runs scenarios: a warm-up, then timed runs with the allocation counter read around each.
enum Runner {
    /// Warm-up operations before anything is counted: first-use work (lazy globals, page faults
    /// on fresh buffers, cold caches and branch predictors) must not count as per-operation cost.
    static func warmUpIterations(for iterations: Int) -> Int {
        max(1, min(iterations / 10, 1_000))
    }

    /// Timed measurement: `runs` runs of `iterations` operations each.
    static func measure(_ scenario: Scenario, iterations: Int, runs: Int) -> Measurement {
        let workload = scenario.prepare()
        workload.run(warmUpIterations(for: iterations))
        var perOperation: [Double] = []
        perOperation.reserveCapacity(runs)
        var allocations: UInt64 = 0
        for _ in 0..<runs {
            // The clock and the counter are read outside the loop and allocate nothing, and
            // `perOperation` has its capacity: the counted window holds the operations only.
            let allocationsBefore = CDevmeshAllocCounter_allocations()
            let start = MonotonicClock.nanoseconds()
            workload.run(iterations)
            let end = MonotonicClock.nanoseconds()
            allocations += CDevmeshAllocCounter_allocations() - allocationsBefore
            perOperation.append(Double(end - start) / Double(iterations))
        }
        perOperation.sort()
        return Measurement(name: scenario.name, iterations: iterations, runs: runs,
                           nanosecondsPerOperation: perOperation,
                           allocationsPerOperation: Double(allocations) / Double(iterations * runs))
    }

    /// Allocation count only (`--check`): one untimed run of `iterations` operations.
    static func countAllocations(_ scenario: Scenario, iterations: Int) -> Double {
        let workload = scenario.prepare()
        workload.run(warmUpIterations(for: iterations))
        let before = CDevmeshAllocCounter_allocations()
        workload.run(iterations)
        let allocations = CDevmeshAllocCounter_allocations() - before
        return Double(allocations) / Double(iterations)
    }
}

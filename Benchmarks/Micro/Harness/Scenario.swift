/// One microbenchmark: a named operation of a pure layer, measured in a loop.
///
/// A scenario is declared with a `prepare` function that builds its fixtures (buffers, header
/// lists, route tables) *outside* any measurement and returns the loop to measure. The loop
/// runs `n` operations per call, so the harness pays one closure call per batch, not per
/// operation, and the work inside is specialised like ordinary code.
struct Scenario: Sendable {
    /// Stable name: the key in JSON output, in the budgets file and in callgrind dumps.
    let name: String
    /// What one operation is, for `--list` and the docs.
    let summary: String
    /// Operations per timed run by default (each run takes tens of milliseconds in release).
    let iterations: Int
    /// Operations for `--check` and `--instructions`: enough to see any per-operation
    /// allocation or instruction, few enough to finish fast (and under Valgrind).
    let quickIterations: Int
    let prepare: @Sendable () -> Workload
}

/// A prepared scenario. `run(n)` performs `n` operations; the closure keeps the fixtures alive.
struct Workload {
    let run: (Int) -> Void
}

/// Every scenario, in report order.
enum ScenarioCatalog {
    static let all: [Scenario] = HTTP1Scenarios.all + RoutingScenarios.all

    static func select(_ filter: String?) -> [Scenario] {
        guard let filter, !filter.isEmpty else { return all }
        return all.filter { $0.name.contains(filter) }
    }
}

/// Bounds on what one agent stores, so that a client (or a bug) cannot grow it without limit.
/// Generous for development clusters; named so they are easy to find and change.
public struct AgentLimits: Equatable, Sendable {
    public var maxSandboxes = 10_000
    public var maxRouteGroups = 1_000
    public var maxForksPerSandbox = 64
    public var maxPortsPerFork = 64
    public var maxDestinationsPerPort = 16
    public var maxLabels = 32
    public var maxGroupSandboxNames = 256
    /// Largest request body the HTTP API reads (413 above).
    public var maxRequestBodyBytes = 1 << 20

    public init() {}
}

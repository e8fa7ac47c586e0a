import DevmeshConfig
import DevmeshGRPC
import DevmeshIO
import DevmeshRoutesAPI
import DevmeshRouting

/// Follows the routing rules of one baseline workload over the Routes API
/// (`WatchWorkloadRoutingRules`, routes-api.md §3), on the control thread.
///
/// On every (re)connect the stream's ADDs are collected into a fresh map until SYNCED, which then
/// replaces the live rules whole (a resync by diff: what vanished while disconnected is removed).
/// After SYNCED each ADD / REMOVE / REPLACE changes the live rules. An op that is malformed (no
/// route, another workload, a key outside the alphabet, an invalid destination) is rejected on its
/// own and counted; a non-ADD before SYNCED breaks the protocol and restarts the watch. While
/// disconnected the last rules stay in force; reconnects back off from 1 s to 30 s with jitter.
final class WorkloadWatch: GRPCClientCallDelegate {
    enum State: Int {
        case connecting = 0
        case syncing = 1
        case synced = 2
        case backingOff = 3
    }

    let subscription: WorkloadSubscription
    private let address: SocketAddress
    private let loop: EventLoop
    private let buffers: BufferPool
    private let onRulesChanged: () -> Void
    private var call: GRPCClientCall?
    private(set) var state = State.connecting
    /// The rules in force, by routing key (the watch is filtered to one workload, so the key is
    /// the rule's identity).
    private(set) var live: [String: WorkloadRoutingRule] = [:]
    private var fresh: [String: WorkloadRoutingRule] = [:]
    private(set) var everSynced = false
    private(set) var lastProblem = ""
    private var failedAttempts = 0
    private var retry: TimerTask?
    private var stopped = false

    // Counters for /metrics.
    private(set) var opsApplied: UInt64 = 0
    private(set) var opsRejected: UInt64 = 0
    private(set) var reconnects: UInt64 = 0

    private let keepalive: GRPCKeepalive?

    static let minimumBackoffMilliseconds: Int64 = 1000
    static let maximumBackoffMilliseconds: Int64 = 30_000

    init(subscription: WorkloadSubscription, address: SocketAddress, keepalive: GRPCKeepalive?, loop: EventLoop,
         buffers: BufferPool, onRulesChanged: @escaping () -> Void) {
        self.subscription = subscription
        self.keepalive = keepalive
        self.address = address
        self.loop = loop
        self.buffers = buffers
        self.onRulesChanged = onRulesChanged
    }

    func start() {
        guard !stopped else { return }
        state = .connecting
        fresh.removeAll()
        var filter = WorkloadRoutingRulesRequest()
        filter.baselineWorkload = BaselineWorkload(kind: subscription.kind, namespace: subscription.namespace,
                                                   name: subscription.name)
        call = GRPCClientCall(loop: loop, buffers: buffers, address: address, authority: address.description,
                              path: "/routes.Routes/WatchWorkloadRoutingRules", request: filter.serializedBytes(),
                              delegate: self, keepalive: keepalive)
    }

    func stop() {
        stopped = true
        call?.cancel()
        call = nil
        retry = nil
    }

    // MARK: GRPCClientCallDelegate

    func grpcCall(_ call: GRPCClientCall, received message: [UInt8]) {
        if state == .connecting { state = .syncing }
        let op: WorkloadRoutingRuleOp
        do {
            op = try WorkloadRoutingRuleOp(serializedBytes: message)
        } catch {
            _ = reject("undecodable op: \(error)")
            return
        }
        switch (state, op.op) {
        case (.syncing, .add):
            guard let rule = valid(op.route) else { return }
            fresh[rule.routingKey] = rule
        case (.syncing, .synced):
            state = .synced
            everSynced = true
            failedAttempts = 0
            live = fresh
            fresh.removeAll()
            onRulesChanged()
        case (.syncing, _):
            // routes-api.md §3: nothing but ADD may come before SYNCED.
            lastProblem = "\(op.op) before SYNCED: restarting the watch"
            opsRejected &+= 1
            self.call?.cancel()
            self.call = nil
            scheduleReconnect()
        case (.synced, .add), (.synced, .replace):
            guard let rule = valid(op.route) else { return }
            live[rule.routingKey] = rule
            opsApplied &+= 1
            onRulesChanged()
        case (.synced, .remove):
            guard let key = op.route?.routingKey, live.removeValue(forKey: key) != nil else {
                _ = reject("REMOVE of a rule not in force")
                return
            }
            opsApplied &+= 1
            onRulesChanged()
        case (.synced, .synced):
            break // at most one per stream; a repeat changes nothing
        default:
            _ = reject("unknown op \(op.op)")
        }
    }

    func grpcCall(_ call: GRPCClientCall, finishedWith status: Int, message: String) {
        guard call === self.call else { return }
        self.call = nil
        lastProblem = "watch ended: grpc-status \(status)\(message.isEmpty ? "" : ": " + message)"
        scheduleReconnect()
    }

    // MARK: Rules

    /// The rule of an op, if it is one this proxy can use; otherwise the op is counted as rejected.
    private func valid(_ rule: WorkloadRoutingRule?) -> WorkloadRoutingRule? {
        guard let rule else { return reject("op without a route") }
        guard let baseline = rule.baseline, baseline.kind == subscription.kind,
              baseline.namespace == subscription.namespace, baseline.name == subscription.name else {
            return reject("rule for another workload")
        }
        guard RoutingKeyAlphabet.isValidKey(rule.routingKey.utf8) else {
            return reject("routing key \"\(rule.routingKey.prefix(64))\" outside [A-Za-z0-9._-]")
        }
        for mapping in rule.mappings {
            for destination in mapping.destinations where destination.host.isEmpty
                || destination.port == 0 || destination.port > 65535 {
                return reject("invalid destination \(destination.host):\(destination.port) for key \(rule.routingKey)")
            }
        }
        return rule
    }

    private func reject(_ problem: String) -> WorkloadRoutingRule? {
        opsRejected &+= 1
        lastProblem = problem
        return nil
    }

    /// The routes these rules give `subscription.service`: the mappings for its workload port.
    func routes() -> [RouteSpec] {
        live.keys.sorted().compactMap { key in
            let rule = live[key]!
            guard let mapping = rule.mappings.first(where: { $0.workloadPort == UInt32(subscription.port) }),
                  !mapping.destinations.isEmpty else { return nil }
            let endpoints = mapping.destinations.map { EndpointSpec(host: $0.host, port: UInt16($0.port)) }
            let sandbox = rule.destinationSandbox?.name ?? key
            return RouteSpec(routingKey: key, sandbox: sandbox.isEmpty ? key : sandbox, endpoints: endpoints)
        }
    }

    /// Takes back rules that could not be built into a table (the whole update is refused).
    func restore(_ previous: [String: WorkloadRoutingRule]) {
        live = previous
    }

    // MARK: Reconnecting

    /// Backoff doubling from 1 s to 30 s, with ±10 % jitter so many proxies do not reconnect in step.
    private func scheduleReconnect() {
        guard !stopped else { return }
        state = .backingOff
        reconnects &+= 1
        let exponent = min(failedAttempts, 5)
        failedAttempts += 1
        let base = min(Self.minimumBackoffMilliseconds << Int64(exponent), Self.maximumBackoffMilliseconds)
        let jitter = Int64.random(in: -(base / 10)...(base / 10))
        retry = TimerTask(loop: loop, afterMilliseconds: base + jitter) { [weak self] in
            self?.retry = nil
            self?.start()
        }
    }
}

import DevmeshConfig
import DevmeshGRPC
import DevmeshIO
import DevmeshRoutesAPI
import DevmeshRouting

/// The proxy's side of the control plane: one `WorkloadWatch` per subscribed workload, on the
/// control thread, and the merge of their rules into the configured services' routes.
///
/// Changes are coalesced: every op that changes the rules asks for one rebuild at the end of the
/// loop turn, so a burst of ops (the initial sync of 10,000 rules, say) builds one table.
final class ControlPlaneClient {
    let settings: AgentSettings
    private(set) var watches: [WorkloadWatch] = []
    private let loop: EventLoop
    private let startedAt: Int64
    private let buffers = BufferPool(chunkSize: 16 * 1024, largeSize: 16 * 1024, chunksPerSlab: 4)
    private var rebuild: EndOfTurnTask?
    private let onChange: () -> Void
    /// The rules of the last table that was built, to go back to when an update cannot be built.
    private var lastGood: [[String: WorkloadRoutingRule]] = []
    private(set) var updatesApplied: UInt64 = 0
    private(set) var updatesRefused: UInt64 = 0
    private(set) var lastRefusal = ""
    /// Wall time of the last table build from agent rules (merge, compile, resolve, publish), and
    /// the sum over all builds: what a route change costs the control thread.
    private(set) var lastRebuildMicroseconds: Int64 = 0
    private(set) var rebuildMicrosecondsTotal: Int64 = 0

    init(settings: AgentSettings, loop: EventLoop, onChange: @escaping () -> Void) throws(AddressError) {
        self.settings = settings
        self.loop = loop
        self.onChange = onChange
        startedAt = loop.now
        let address = try SocketAddress.resolve(host: settings.address.host, port: settings.address.port)
        let keepalive = settings.keepaliveInterval.isOff ? nil
            : GRPCKeepalive(intervalMilliseconds: settings.keepaliveInterval.value,
                            timeoutMilliseconds: settings.keepaliveTimeout.value)
        for subscription in settings.subscriptions {
            watches.append(WorkloadWatch(subscription: subscription, address: address, keepalive: keepalive,
                                         loop: loop, buffers: buffers) {
                [unowned self] in self.scheduleRebuild()
            })
        }
        lastGood = watches.map(\.live)
    }

    func start() {
        for watch in watches { watch.start() }
    }

    func stop() {
        for watch in watches { watch.stop() }
        rebuild?.cancel()
        rebuild = nil
    }

    /// Every watch has received a complete set of rules at least once.
    var synced: Bool { watches.allSatisfy(\.everSynced) }

    /// Ready to report ready: synced, or the startup wait is over (then serving what it has,
    /// the baseline at first).
    var readyDespiteSync: Bool { synced || loop.now - startedAt >= settings.syncTimeout.value }

    /// The routes the agent gives `service`.
    func routes(for service: String) -> [RouteSpec] {
        watches.filter { $0.subscription.service == service }.flatMap { $0.routes() }
    }

    private func scheduleRebuild() {
        guard rebuild == nil else { return }
        rebuild = EndOfTurnTask(loop: loop) { [unowned self] in
            self.rebuild = nil
            let start = AccessLogRecord.monotonicMicroseconds()
            self.onChange()
            self.lastRebuildMicroseconds = AccessLogRecord.monotonicMicroseconds() - start
            self.rebuildMicrosecondsTotal &+= self.lastRebuildMicroseconds
        }
    }

    /// The table built from the current rules is in force.
    func accepted() {
        updatesApplied &+= 1
        lastGood = watches.map(\.live)
    }

    /// The current rules could not be built into a table: go back to the last good ones.
    func refused(_ problem: String) {
        updatesRefused &+= 1
        lastRefusal = problem
        for (watch, rules) in zip(watches, lastGood) { watch.restore(rules) }
    }

    /// For /routes: the state of each watch.
    func describeJSON() -> String {
        let items = watches.map { watch in
            """
            {"workload":"\(watch.subscription.workload)","service":"\(watch.subscription.service)",\
            "workload_port":\(watch.subscription.port),"state":"\(Self.name(watch.state))",\
            "synced_once":\(watch.everSynced),"rules":\(watch.live.count),\
            "last_problem":"\(watch.lastProblem.replacingJSONSpecials())"}
            """
        }
        return """
            {"agent":"\(settings.address)","synced":\(synced),"watches":[\(items.joined(separator: ","))],\
            "updates_applied":\(updatesApplied),"updates_refused":\(updatesRefused)}
            """
    }

    static func name(_ state: WorkloadWatch.State) -> String {
        switch state {
        case .connecting: "connecting"
        case .syncing: "syncing"
        case .synced: "synced"
        case .backingOff: "backing_off"
        }
    }
}

/// Runs a closure once, at the end of the current loop turn (after every event of this turn was
/// handled), not at a timer tick: a 0 ms timer waits for the wheel's next 10 ms tick, which added
/// up to 10 ms to every route change before it reached the workers.
final class EndOfTurnTask: EventHandler {
    private let loop: EventLoop
    private var slot: Slot = .invalid
    private let body: () -> Void

    init(loop: EventLoop, body: @escaping () -> Void) {
        self.loop = loop
        self.body = body
        slot = loop.registerTimerOnly(handler: self)
        loop.resumeLater(slot)
    }

    /// The closure will not run (the loop drops its reference to this task).
    func cancel() {
        loop.deregister(slot)
        slot = .invalid
    }

    func handleEvents(_ events: UInt32) {
        guard slot != .invalid else { return }
        cancel()
        body()
    }

    func handleTimer() {}
}

extension String {
    /// Escapes what JSON strings cannot hold as is (for small hand-written documents).
    func replacingJSONSpecials() -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += " " } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}

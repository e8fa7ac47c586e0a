import DevmeshConfig
import DevmeshIO
import DevmeshRouting
import Glibc
import Synchronization

/// Starts the workers and runs the control thread: signals, configuration reloads, the admin
/// listener and draining. The control thread never touches the request path; it publishes
/// route snapshots and drain requests, and reads the workers' published counters.
public final class ProxyServer {
    private let options: QuickStartOptions
    private var configPath: String? { options.configPath }
    private(set) var configuration: ProxyConfiguration
    private let snapshots: RouteSnapshotBox<ProxySnapshot>
    private(set) var controls: [WorkerControl] = []
    private var threads: [PosixThread] = []
    let loop: EventLoop
    private let controlWaker: LoopWaker
    private var signalFD: Int32 = -1
    private(set) var admin: AdminServer?
    private var draining = false
    /// The listening sockets each worker accepts on (what a successor is offered).
    private(set) var workerListeners: [[ListenerPlan.Socket]] = []
    /// Listens on `handover_socket` for a successor (binary upgrade); see HandoverServer.
    var handoverServer: HandoverServer?
    /// The entries of the last handover offer: which worker (nil: admin) holds each descriptor.
    var offeredOwners: [(worker: Int?, fd: Int32)] = []
    /// Waits for the agent's routes before a successor starts its workers.
    private var deferredStart: TimerTask?
    private var drainDeadline: Int64 = 0
    private var configFileState: FileState?
    private var nextVersion: UInt64 = 2
    /// Successful reloads of the configuration file so far (`ProxySnapshot.fileLoad`).
    private var fileLoads: UInt64 = 0
    let reloads = Atomic<UInt64>(0)
    let reloadFailures = Atomic<UInt64>(0)
    private var tasks: [PeriodicTask] = []
    /// Follows the agent (Routes API) when the configuration names one.
    private(set) var controlPlane: ControlPlaneClient?

    /// Builds the first snapshot (resolving every upstream address). Throws a message for the
    /// operator when the configuration cannot be served. `options` are the command-line flags the
    /// configuration came from: a reload re-reads the file through them, so that the flags that
    /// override the file keep doing so.
    public init(configuration: ProxyConfiguration, options: QuickStartOptions) throws(SnapshotError) {
        self.configuration = configuration
        self.options = options
        snapshots = RouteSnapshotBox(try ProxySnapshot.build(configuration, version: 1))
        do {
            controlWaker = try LoopWaker.make()
            loop = try EventLoop(waker: controlWaker)
        } catch {
            throw SnapshotError(message: "cannot create the control event loop: \(error)")
        }
        if let configPath = options.configPath { configFileState = FileState(path: configPath) }
    }

    /// The signals the control thread handles. `main` blocks them before anything else runs.
    public static let handledSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    /// Binds, starts the workers and serves until drained. Returns the process exit status.
    public func run() -> Int32 {
        Signals.ignorePipe()
        do {
            // Block the signals before any thread starts, so that only the signalfd sees them.
            signalFD = try Signals.makeSignalFD(for: ProxyServer.handledSignals)
        } catch {
            Log.error("cannot set up signal handling: \(error)")
            return 1
        }
        let openFiles = ResourceLimits.raiseOpenFileLimit()
        let workerCount = max(1, configuration.workers ?? PosixThread.availableCores)
        // Each downstream connection may hold an upstream one too; below this the descriptor
        // limit, not max_connections_per_worker, caps connections (accept then pauses on EMFILE).
        let wanted = UInt64(workerCount * configuration.limits.maxConnectionsPerWorker)
        if openFiles < wanted {
            Log.warning("open-file limit is \(openFiles), below workers × max_connections_per_worker (\(wanted))")
        }
        // Binary upgrade: take the listening sockets of the devmesh running on the handover
        // socket, if any, before binding anything.
        let handover = inheritListeners()
        let plan: ListenerPlan
        do {
            plan = try ListenerPlan.make(listeners: configuration.listeners, admin: configuration.admin,
                                         workers: workerCount, inherited: handover?.inherited ?? [])
            if let address = configuration.admin {
                admin = try AdminServer(loop: loop, address: address, server: self, inherited: plan.adminFD)
            }
        } catch {
            handover?.abandon()
            Log.error("\(error)")
            return 1
        }
        for address in plan.addresses { Log.info("listening on \(address)") }
        if let admin { Log.info("admin on \(admin.address)") }
        if let handover {
            Log.info("handover: adopted \(plan.adopted.count) of \(handover.inherited.count) socket(s) "
                     + "from pid \(handover.predecessorPID)")
        }
        workerListeners = plan.perWorker
        watchSignalsAndFiles()
        if let agent = configuration.agent {
            do {
                let client = try ControlPlaneClient(settings: agent, loop: loop) { [unowned self] in
                    self.rulesChanged()
                }
                controlPlane = client
                client.start()
                Log.info("following routes from the agent at \(agent.address) for "
                         + agent.subscriptions.map(\.workload).joined(separator: ", "))
            } catch {
                handover?.abandon()
                Log.error("agent \(agent.address): \(error)")
                return 1
            }
        }
        if let handover, controlPlane != nil {
            // The predecessor serves with its routes until this process has its own: taking the
            // sockets over before the first sync would send sandbox traffic to the baseline.
            Log.info("handover: waiting for the routes from the agent before taking over")
            startWhenRoutesSynced(workers: workerCount, handover: handover, adopted: plan.adopted)
        } else {
            takeOver(workers: workerCount, handover: handover, adopted: plan.adopted)
        }
        loop.onWakeUp = { [unowned self] in self.checkDrainProgress() }
        loop.run()
        for thread in threads { thread.join() }
        return 0
    }

    // MARK: Listeners and workers

    /// Starts the workers on the planned sockets; after a handover, tells the predecessor that
    /// this process serves now. Then listens on the handover socket for a successor of its own.
    private func takeOver(workers: Int, handover: HandoverClient?, adopted: [UInt16]) {
        startWorkers(count: workers, listenerFDs: workerListeners.map { $0.map(\.fd) })
        if let handover { Log.info(handover.confirmServing(adopted: adopted)) }
        listenForSuccessor()
    }

    private func startWhenRoutesSynced(workers: Int, handover: HandoverClient, adopted: [UInt16]) {
        deferredStart = TimerTask(loop: loop, afterMilliseconds: 20) { [unowned self] in
            if self.draining {
                handover.abandon()
            } else if self.controlPlane?.readyDespiteSync ?? true {
                self.takeOver(workers: workers, handover: handover, adopted: adopted)
            } else {
                self.startWhenRoutesSynced(workers: workers, handover: handover, adopted: adopted)
            }
        }
    }

    private func startWorkers(count: Int, listenerFDs: [[Int32]]) {
        let snapshots = self.snapshots
        let controlWaker = self.controlWaker
        for index in 0..<count {
            let waker: LoopWaker
            do {
                waker = try LoopWaker.make()
            } catch {
                fatalError("devmesh: cannot create a worker eventfd: \(error)")
            }
            let control = WorkerControl(id: index, waker: waker)
            controls.append(control)
            let fds = listenerFDs[index]
            threads.append(PosixThread.start(name: "devmesh-w\(index)") {
                do {
                    let loop = try EventLoop(waker: waker)
                    let worker = try Worker(control: control, loop: loop, snapshots: snapshots, listenerFDs: fds)
                    worker.run()
                } catch {
                    fatalError("devmesh: worker \(index) failed to start: \(error)")
                }
                controlWaker.wake()
            })
        }
    }

    // MARK: Signals, reloads, drain

    private func watchSignalsAndFiles() {
        let handler = SignalSource(fd: signalFD) { [unowned self] signal in self.handle(signal: signal) }
        do {
            _ = try loop.register(signalFD, handler: handler)
        } catch {
            Log.error("cannot watch signals: \(error)")
        }
        signalHandler = handler
        if configPath != nil {
            tasks.append(PeriodicTask(loop: loop, intervalMilliseconds: 1000) { [unowned self] in
                self.checkConfigFile()
            })
        }
    }
    private var signalHandler: SignalSource?

    private func handle(signal: Int32) {
        switch signal {
        case SIGHUP:
            reload(reason: "SIGHUP")
        case SIGTERM, SIGINT:
            if draining {
                Log.info("second signal: exiting now")
                exit(1)
            }
            beginDrain(reason: "draining")
        default:
            break
        }
    }

    /// Stops accepting (after a handover: on the sockets the successor took, `handedOver[worker]`,
    /// without closing their queues) and gives in-flight work `drain_timeout` to finish.
    func beginDrain(reason: String, handedOver: [[Int32]]? = nil) {
        draining = true
        // No successor can take over from a draining process; its socket file goes now.
        handoverServer?.close()
        let timeout = configuration.drainTimeout.value
        Log.info("\(reason): no new connections; in-flight requests have \(timeout) ms to finish")
        drainDeadline = loop.now + timeout
        for (index, control) in controls.enumerated() {
            if let handedOver { control.listenersHandedOver.withLock { $0 = handedOver[index] } }
            control.requestDrain()
        }
        tasks.append(PeriodicTask(loop: loop, intervalMilliseconds: 50) { [unowned self] in
            self.checkDrainProgress()
        })
    }

    private func checkDrainProgress() {
        guard draining else { return }
        if controls.allSatisfy({ $0.finished.load(ordering: .acquiring) }) {
            Log.info("drained; exiting")
            loop.stop()
        } else if loop.now >= drainDeadline {
            let open = controls.reduce(0) { $0 + $1.stats.downstreamOpen }
            Log.warning("drain timeout reached with \(open) connection(s) still open; exiting")
            exit(0)
        }
    }

    var isDraining: Bool { draining }

    private func checkConfigFile() {
        guard let path = configPath else { return }
        let current = FileState(path: path)
        if current != configFileState {
            configFileState = current
            reload(reason: "change of \(path)")
        }
    }

    /// Loads the configuration file, builds a snapshot and publishes it. Anything invalid is
    /// refused whole and the table in force keeps serving.
    private func reload(reason: String) {
        guard let path = configPath else {
            Log.warning("\(reason): nothing to reload (no --config file)")
            return
        }
        configFileState = FileState(path: path)
        let next: ProxyConfiguration
        do {
            next = try options.makeConfiguration()
        } catch {
            reloadFailures.add(1, ordering: .relaxed)
            Log.error("reload (\(reason)) refused, keeping the current table: \(error)")
            return
        }
        let needRestart = restartRequiredChanges(from: configuration, to: next)
        if !needRestart.isEmpty {
            Log.warning("reload: changes to \(needRestart.joined(separator: ", ")) need a restart; applying the rest")
        }
        let snapshot: ProxySnapshot
        do {
            snapshot = try ProxySnapshot.build(merged(next), version: nextVersion, fileLoad: fileLoads + 1)
        } catch {
            reloadFailures.add(1, ordering: .relaxed)
            Log.error("reload (\(reason)) refused, keeping the current table: \(error)")
            return
        }
        configuration = next
        fileLoads += 1
        publish(snapshot)
        reloads.add(1, ordering: .relaxed)
        Log.info("reloaded (\(reason)): route table version \(snapshot.version)")
    }

    private func publish(_ snapshot: ProxySnapshot) {
        nextVersion += 1
        snapshots.publish(snapshot)
        for control in controls { control.waker.wake() }
    }

    /// The configuration with the agent's routes added to the services they route for. Routes
    /// written in the configuration win over agent rules with the same key.
    private func merged(_ base: ProxyConfiguration) -> ProxyConfiguration {
        guard let controlPlane else { return base }
        var result = base
        for index in result.routing.services.indices {
            let dynamic = controlPlane.routes(for: result.routing.services[index].name)
            guard !dynamic.isEmpty else { continue }
            let configured = Set(result.routing.services[index].routes.map(\.routingKey))
            result.routing.services[index].routes += dynamic.filter { !configured.contains($0.routingKey) }
        }
        return result
    }

    /// The agent's rules changed: build and publish a table, or refuse the update whole.
    private func rulesChanged() {
        guard let controlPlane else { return }
        do {
            let snapshot = try ProxySnapshot.build(merged(configuration), version: nextVersion, fileLoad: fileLoads)
            publish(snapshot)
            controlPlane.accepted()
        } catch {
            controlPlane.refused("\(error)")
            Log.error("route update from the agent refused, keeping the table in force: \(error)")
        }
    }

    /// Ready to take traffic: not draining and, with an agent, synced (or past the startup wait).
    var readiness: (ready: Bool, note: String) {
        if draining { return (false, "draining") }
        guard let controlPlane else { return (true, "ready") }
        if controlPlane.synced { return (true, "ready (routes synced from the agent)") }
        if controlPlane.readyDespiteSync {
            return (true, "ready, serving the baseline only: routes not synced from the agent yet")
        }
        return (false, "waiting for the first complete set of routes from the agent")
    }

    // MARK: For the admin endpoint

    var currentSnapshot: ProxySnapshot { snapshots.load().snapshot }

    var workerStats: WorkerStats {
        var total = WorkerStats()
        for control in controls { total.add(control.stats) }
        return total
    }
}

struct ServerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Identity of a file for change detection (content replaced, symlink swapped, touched).
struct FileState: Equatable {
    var device: UInt64 = 0
    var inode: UInt64 = 0
    var size: Int64 = 0
    var modifiedSeconds: Int = 0
    var modifiedNanoseconds: Int = 0

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}

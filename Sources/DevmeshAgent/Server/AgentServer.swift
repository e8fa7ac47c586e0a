import DevmeshIO
import DevmeshRoutesAPI
import Glibc

/// Serves the gRPC port: `RoutesGRPCAcceptor` (the Routes API) unless told otherwise.
public protocol AgentGRPCAcceptor: AnyObject {
    /// Takes ownership of an accepted, non-blocking, close-on-exec socket. Called on the agent's
    /// loop thread, the same thread as `service` and its `RulesIndex`.
    func accept(_ fd: Int32, loop: EventLoop, service: AgentService)
}

/// Where the agent listens and keeps its data.
public struct AgentOptions: Sendable {
    public var dataDirectory: String
    public var httpAddress: String = "127.0.0.1:7778"
    public var grpcAddress: String = "127.0.0.1:7777"
    public var watchBuffer: Int = RulesIndex.defaultWatchBuffer
    public var compactionThreshold: Int = DurableStore.defaultCompactionThreshold

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}

/// The agent process: opens the store, binds both ports and runs one event loop (the control
/// thread) until SIGTERM or SIGINT. Everything (HTTP API, gRPC, store, rules index) runs on that
/// loop, so none of it needs a lock. A write blocks the loop for one `fdatasync`; the agent is a
/// control plane and durability comes first.
public final class AgentServer {
    public static let handledSignals: [Int32] = [SIGTERM, SIGINT]

    public let loop: EventLoop
    public let service: AgentService
    public let http: AgentHTTPServer
    private let grpcListener: GRPCListener
    private var signalSource: SignalSource?

    public var httpAddress: SocketAddress { http.address }
    public var grpcAddress: SocketAddress { grpcListener.address }

    /// - Parameter waker: hands another thread a way to wake the loop (tests stop it with one:
    ///   `loop.onWakeUp = { loop.stop() }`); the loop takes ownership.
    public init(options: AgentOptions, grpc: any AgentGRPCAcceptor = RoutesGRPCAcceptor(),
                waker: LoopWaker? = nil) throws(AgentStartError) {
        let store: DurableStore
        do {
            store = try DurableStore(directory: options.dataDirectory, compactionThreshold: options.compactionThreshold)
        } catch {
            throw AgentStartError("data directory \(options.dataDirectory): \(error)")
        }
        service = AgentService(store: store, index: RulesIndex(watchBuffer: options.watchBuffer))
        do {
            loop = try EventLoop(waker: waker)
        } catch {
            throw AgentStartError("cannot create the event loop: \(error)")
        }
        let httpAddress = try AgentServer.resolve(options.httpAddress, flag: "--http")
        let grpcAddress = try AgentServer.resolve(options.grpcAddress, flag: "--grpc")
        do {
            http = try AgentHTTPServer(loop: loop, address: httpAddress, api: AgentAPI(service: service))
        } catch {
            throw AgentStartError("cannot listen on \(httpAddress) (--http): \(error)")
        }
        do {
            grpcListener = try GRPCListener(loop: loop, address: grpcAddress, service: service, acceptor: grpc)
        } catch {
            http.shutdown()
            throw AgentStartError("cannot listen on \(grpcAddress) (--grpc): \(error)")
        }
    }

    /// Serves until SIGTERM or SIGINT (which the caller has blocked, so they arrive on the
    /// signalfd). Returns the exit status.
    public func run() -> Int32 {
        Signals.ignorePipe()
        do {
            let fd = try Signals.makeSignalFD(for: AgentServer.handledSignals)
            let source = SignalSource(fd: fd) { [unowned self] signal in
                Log.info("\(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping the agent")
                self.loop.stop()
            }
            _ = try loop.register(fd, handler: source)
            signalSource = source
        } catch {
            Log.error("cannot set up signal handling: \(error)")
            return 1
        }
        loop.run()
        shutdown()
        return 0
    }

    /// Closes both listeners, every connection and the store (after `loop` stopped).
    public func shutdown() {
        http.shutdown()
        grpcListener.shutdown()
        service.store.close()
    }

    static func resolve(_ text: String, flag: String) throws(AgentStartError) -> SocketAddress {
        do {
            return try SocketAddress.parse(text)
        } catch {
            throw AgentStartError("\(flag) \(text): \(error)")
        }
    }
}

/// Why the agent could not start, in words for the operator.
public struct AgentStartError: Error, CustomStringConvertible, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Accepts on the gRPC port and passes each socket to the acceptor.
final class GRPCListener: EventHandler {
    let address: SocketAddress
    private let fd: Int32
    private let loop: EventLoop
    private let service: AgentService
    private let acceptor: any AgentGRPCAcceptor
    private var slot: Slot = .invalid

    init(loop: EventLoop, address: SocketAddress, service: AgentService, acceptor: any AgentGRPCAcceptor) throws(Errno) {
        self.loop = loop
        self.service = service
        self.acceptor = acceptor
        fd = try Sockets.listen(on: address, reusePort: false, backlog: 128)
        do {
            self.address = try Syscall.localAddress(fd)
            slot = try loop.register(fd, handler: self)
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    func handleEvents(_ events: UInt32) {
        while case .done(let client)? = try? Syscall.accept(fd) {
            acceptor.accept(client, loop: loop, service: service)
        }
    }

    func handleTimer() {}

    func shutdown() {
        guard slot != .invalid else { return }
        loop.deregister(slot)
        slot = .invalid
        Syscall.close(fd)
    }
}

import DevmeshConfig
import DevmeshIO

/// Which listening sockets each worker accepts on: the ones a predecessor handed over (binary
/// upgrade) where they match the configuration, and sockets bound here for the rest.
///
/// For each configured listen address, in order:
/// - the first group of inherited worker listeners on the same address (a configured port 0
///   matches any port on the same IP: the successor keeps the predecessor's port) is adopted:
///   worker i takes socket i;
/// - more workers than inherited sockets: the extra workers bind new SO_REUSEPORT sockets on
///   that address (the kernel adds them to the same group);
/// - fewer workers: the surplus sockets are spread over the workers (a worker accepts from
///   several), because closing one would reset the connections queued on it;
/// - no inherited group: every worker binds one, as without a handover.
/// The admin listener is adopted the same way. Inherited sockets nothing matches are closed
/// here; the predecessor still accepts on them until it drains.
struct ListenerPlan {
    struct Socket {
        let fd: Int32
        /// Position of the listen address in this process's configuration.
        let group: Int
        let address: SocketAddress
    }

    /// The sockets of each worker.
    private(set) var perWorker: [[Socket]]
    /// The bound address of each configured listen address.
    private(set) var addresses: [SocketAddress] = []
    /// The admin listener to adopt, if one was inherited and matches `admin`.
    private(set) var adminFD: Int32?
    /// Ids of the inherited entries adopted (for the `serving` message).
    private(set) var adopted: [UInt16] = []

    /// Builds the plan, binding what is not inherited. Inherited descriptors that are not
    /// adopted are closed. A failure ends the process, which closes the rest.
    static func make(listeners: [ListenAddress], admin: ListenAddress?, workers: Int,
                     inherited: [HandoverClient.Inherited]) throws(ServerError) -> ListenerPlan {
        var plan = ListenerPlan(perWorker: [[Socket]](repeating: [], count: workers))
        var unclaimed = inherited
        do throws(ServerError) {
            for (group, listen) in listeners.enumerated() {
                let wanted = try resolve(listen, what: "listener")
                let matching = takeGroup(matching: wanted, from: &unclaimed)
                try plan.add(group: group, wanted: wanted, inherited: matching)
            }
            if let admin {
                let wanted = try resolve(admin, what: "admin listener")
                if let index = unclaimed.firstIndex(where: { $0.listener.kind == .admin && matches(wanted, $0.listener.address) }) {
                    plan.adminFD = unclaimed[index].fd
                    plan.adopted.append(unclaimed[index].id)
                    unclaimed.remove(at: index)
                }
            }
        } catch {
            for socket in unclaimed { Syscall.close(socket.fd) }
            throw error
        }
        for socket in unclaimed { Syscall.close(socket.fd) }
        plan.adopted.sort()
        return plan
    }

    /// The inherited worker sockets of the first predecessor group bound where `wanted` asks,
    /// ordered by the predecessor's worker index.
    private static func takeGroup(matching wanted: SocketAddress,
                                  from unclaimed: inout [HandoverClient.Inherited]) -> [HandoverClient.Inherited] {
        guard let first = unclaimed.first(where: { $0.listener.kind == .worker && matches(wanted, $0.listener.address) })
        else { return [] }
        let group = first.listener.group
        let taken = unclaimed.filter { $0.listener.kind == .worker && $0.listener.group == group }
        unclaimed.removeAll { $0.listener.kind == .worker && $0.listener.group == group }
        return taken.sorted { ($0.listener.worker, $0.id) < ($1.listener.worker, $1.id) }
    }

    /// A configured port 0 means "any port": it matches the predecessor's socket on the same
    /// IP, whatever port that one was given.
    static func matches(_ wanted: SocketAddress, _ bound: SocketAddress) -> Bool {
        guard wanted.port == 0 else { return wanted == bound }
        var anyPort = bound
        anyPort.port = 0
        return wanted == anyPort
    }

    private mutating func add(group: Int, wanted: SocketAddress,
                              inherited: [HandoverClient.Inherited]) throws(ServerError) {
        var address = inherited.first?.listener.address ?? wanted
        let workers = perWorker.count
        for worker in 0..<workers {
            if worker < inherited.count {
                perWorker[worker].append(Socket(fd: inherited[worker].fd, group: group, address: address))
                adopted.append(inherited[worker].id)
                continue
            }
            do {
                let fd = try Sockets.listen(on: address, reusePort: true)
                // With port 0 the first bind picks the port and the other workers bind it too.
                if address.port == 0 { address = try Syscall.localAddress(fd) }
                perWorker[worker].append(Socket(fd: fd, group: group, address: address))
            } catch {
                throw ServerError(message: "cannot listen on \(address): \(error)")
            }
        }
        for (offset, surplus) in inherited.dropFirst(workers).enumerated() {
            perWorker[offset % workers].append(Socket(fd: surplus.fd, group: group, address: address))
            adopted.append(surplus.id)
        }
        addresses.append(address)
    }

    private static func resolve(_ listen: ListenAddress, what: String) throws(ServerError) -> SocketAddress {
        do {
            return try SocketAddress.resolve(host: listen.host, port: listen.port)
        } catch {
            throw ServerError(message: "\(what) \(listen): \(error)")
        }
    }
}

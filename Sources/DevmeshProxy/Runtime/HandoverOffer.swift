import DevmeshIO

/// The proxy's two roles in a binary upgrade: a starting process inherits the listeners of the
/// one running on `handover_socket`; a running process offers its own to a successor and
/// drains once the successor serves.
extension ProxyServer: HandoverSource {
    // MARK: As the successor

    /// Asks the devmesh on the handover socket for its listening sockets. nil when there is
    /// none to ask or the handover failed (logged): the caller then binds its own.
    func inheritListeners() -> HandoverClient? {
        guard let path = configuration.handoverSocket else { return nil }
        switch HandoverClient.requestListeners(path: path) {
        case .noPredecessor:
            return nil
        case .stale:
            Log.info("handover: nothing listens on \(path) any more (its process is gone); binding the listeners here")
            return nil
        case .failed(let error):
            Log.warning("handover over \(path) failed: \(error); binding the listeners here")
            return nil
        case .received(let client):
            return client
        }
    }

    /// Takes the handover socket path, so that the next upgrade finds this process.
    func listenForSuccessor() {
        guard let path = configuration.handoverSocket, !isDraining else { return }
        do {
            handoverServer = try HandoverServer(path: path, loop: loop, source: self)
            Log.info("handover socket on \(path)")
        } catch {
            Log.warning("handover socket \(path): \(error); this process cannot hand its listeners over")
        }
    }

    // MARK: As the predecessor

    var handoverRefusal: String? {
        isDraining ? "this devmesh is draining" : nil
    }

    /// The workers' sockets, listen address by listen address and worker by worker, then the
    /// admin socket.
    func handoverOffer() -> [(listener: HandedListener, fd: Int32)] {
        var sockets: [(worker: Int, socket: ListenerPlan.Socket)] = []
        for (worker, owned) in workerListeners.enumerated() {
            for socket in owned { sockets.append((worker, socket)) }
        }
        sockets.sort { ($0.socket.group, $0.worker) < ($1.socket.group, $1.worker) }
        var offer: [(listener: HandedListener, fd: Int32)] = []
        offeredOwners = []
        for (worker, socket) in sockets {
            offer.append((HandedListener(kind: .worker, group: UInt16(clamping: socket.group),
                                         worker: UInt16(clamping: worker), address: socket.address), socket.fd))
            offeredOwners.append((worker, socket.fd))
        }
        if let admin {
            offer.append((HandedListener(kind: .admin, group: 0, worker: 0, address: admin.address), admin.listenerFD))
            offeredOwners.append((nil, admin.listenerFD))
        }
        return offer
    }

    /// The successor accepts on `adopted`: those sockets are released without accepting (their
    /// queued connections are the successor's), the others close as on SIGTERM; then the
    /// drain runs as on SIGTERM.
    func successorServing(adopted: Set<Int>, pid: Int32) {
        var handedOver = [[Int32]](repeating: [], count: controls.count)
        for id in adopted where id < offeredOwners.count {
            let owner = offeredOwners[id]
            if let worker = owner.worker {
                handedOver[worker].append(owner.fd)
            } else {
                admin?.stopListening()
            }
        }
        beginDrain(reason: "handed over to pid \(pid), draining", handedOver: handedOver)
    }
}

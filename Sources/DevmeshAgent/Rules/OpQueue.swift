import DevmeshRoutesAPI

/// A FIFO of watch ops: appends at the tail, pops at the head, O(1) amortised, and storage is
/// compacted when the consumed head grows past half (no per-pop shifting).
struct OpQueue {
    private var storage: [WorkloadRoutingRuleOp] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }

    mutating func append(_ op: WorkloadRoutingRuleOp) {
        storage.append(op)
    }

    mutating func popFirst() -> WorkloadRoutingRuleOp? {
        guard head < storage.count else { return nil }
        let op = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.count <= 4096)
            head = 0
        } else if head > 1024, head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return op
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }
}

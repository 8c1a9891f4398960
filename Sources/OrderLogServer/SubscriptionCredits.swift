import OrderStore

/// A subscription's flow control: how many events the client will still take. The sender
/// waits here when none are left; `CREDIT` frames add more. Holding no events while it waits
/// is what keeps a slow consumer from growing the server's memory (docs/PROTOCOL.md §7).
actor SubscriptionCredits {
    private var credits: Int
    private let maximum: Int
    private var waiter: CheckedContinuation<Bool, Never>?
    private var logWait: Task<Bool, Never>?
    private var ended = false

    init(initial: Int, maximum: Int) {
        self.credits = min(initial, maximum)
        self.maximum = maximum
    }

    /// Waits until at least one credit is left; returns how many, or nil once ended.
    func available() async -> Int? {
        while credits == 0 && !ended {
            // Cancellation (the connection ended) must wake a subscription parked here.
            let resumed = await withTaskCancellationHandler {
                await withCheckedContinuation { waiter = $0 }
            } onCancel: {
                Task { await self.end() }
            }
            if !resumed || Task.isCancelled { return nil }
        }
        return ended ? nil : credits
    }

    func consume(_ n: Int) { credits = max(0, credits - n) }

    /// Adds credits; false when the total would pass the maximum (the client misbehaves).
    func add(_ n: Int) -> Bool {
        guard credits + n <= maximum else { return false }
        credits += n
        if let w = waiter { waiter = nil; w.resume(returning: true) }
        return true
    }

    /// Waits until the log has records after `position` (true) or is closed (false); nil
    /// once the subscription is ended.
    ///
    /// `end()` wakes this wait instead of the subscription's task being cancelled: a task
    /// cancelled while it writes makes NIO close the whole connection's output, and the
    /// subscription's last frame could not be sent.
    func waitForRecords(in store: OrderStore, after position: UInt64) async -> Bool? {
        if ended { return nil }
        let wait = Task { await store.waitForRecords(after: position) }
        logWait = wait
        let more = await withTaskCancellationHandler { await wait.value } onCancel: { wait.cancel() }
        logWait = nil
        return ended ? nil : more
    }

    func end() {
        ended = true
        if let w = waiter { waiter = nil; w.resume(returning: false) }
        logWait?.cancel()
    }
}

/// How far the log is written and durable, who waits for what, and the background threads'
/// work. All fields are guarded by `lock`; the flusher and sealer threads sleep on it.
final class CommitState: @unchecked Sendable {
    // @unchecked: every field below is read and written with `lock` held.
    let lock = ConditionLock()

    /// Position after the last record written to the OS, and where the flusher must sync.
    var writtenEnd: UInt64
    var writtenSegment: ActiveSegment
    var writtenSegmentBytes: Int
    /// Position after the last record known to be on stable storage.
    var durableEnd: UInt64
    var failure: LogError?
    var finished = false

    var durabilityWaiters: [(end: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    var recordWaiters: [UInt64: (after: UInt64, continuation: CheckedContinuation<Void, Never>)] = [:]
    var nextWaiterID: UInt64 = 0

    var sealQueue: [ActiveSegment] = []
    var sealing = false
    var sealFailed = false
    var stopFlusher = false
    var stopSealer = false
    var flusherRunning = false
    var sealerRunning = false

    init(endPosition: UInt64, active: ActiveSegment) {
        writtenEnd = endPosition
        durableEnd = endPosition
        writtenSegment = active
        writtenSegmentBytes = active.writtenBytes
    }

    /// Takes, with `lock` held, the record waiters whose wait is over at `end`.
    func takeRecordWaiters(reaching end: UInt64) -> [CheckedContinuation<Void, Never>] {
        guard !recordWaiters.isEmpty else { return [] }
        var ready: [CheckedContinuation<Void, Never>] = []
        for (id, waiter) in recordWaiters where waiter.after < end || finished {
            ready.append(waiter.continuation)
            recordWaiters.removeValue(forKey: id)
        }
        return ready
    }

    /// Takes, with `lock` held, the durability waiters whose records are now durable.
    func takeDurabilityWaiters(reaching end: UInt64) -> [CheckedContinuation<Void, any Error>] {
        guard !durabilityWaiters.isEmpty else { return [] }
        var ready: [CheckedContinuation<Void, any Error>] = []
        durabilityWaiters.removeAll { w in
            if w.end <= end { ready.append(w.continuation); return true }
            return false
        }
        return ready
    }

    /// Ends every wait: durable ones succeed up to `durableEnd`, the rest fail with `error`
    /// (or with the log's failure, if it has failed).
    func finish(durableEnd: UInt64?, error: LogError) {
        lock.lock()
        finished = true
        if let durableEnd { self.durableEnd = max(self.durableEnd, durableEnd) }
        let done = takeDurabilityWaiters(reaching: self.durableEnd)
        let failed = durabilityWaiters.map(\.continuation)
        durabilityWaiters.removeAll()
        let readers = takeRecordWaiters(reaching: .max)
        let reason = failure ?? error
        lock.unlock()
        for c in done { c.resume() }
        for c in failed { c.resume(throwing: reason) }
        for c in readers { c.resume() }
    }

    /// Marks the log failed after a failed fsync: every append still waiting for durability
    /// fails, and so will every later one. Linux reports a writeback error to one fsync only,
    /// so a later fsync that "succeeds" proves nothing; the log must not trust it.
    func fail(_ error: LogError) {
        lock.lock()
        if failure == nil { failure = error }
        let waiters = durabilityWaiters.map(\.continuation)
        durabilityWaiters.removeAll()
        let reason = failure!
        lock.broadcast()
        lock.unlock()
        for w in waiters { w.resume(throwing: reason) }
    }
}

/// Takes work for one key one at a time, in arrival order, while work for other keys goes on:
/// an idempotent producer's batches to one partition (KafkaBroker), so a retry racing its first
/// try on another connection sees the first one's answer instead of storing the batch twice.
actor KeyedTurns<Key: Hashable & Sendable> {
    /// Keys whose turn is taken, with who waits for it next (oldest first).
    private var waiting: [Key: [CheckedContinuation<Void, Never>]] = [:]

    /// Returns once the caller holds `key`'s turn; `release(key)` hands it on.
    func acquire(_ key: Key) async {
        guard waiting[key] != nil else {
            waiting[key] = []
            return
        }
        await withCheckedContinuation { waiting[key]!.append($0) }
    }

    func release(_ key: Key) {
        guard var queue = waiting[key] else { return }
        guard !queue.isEmpty else {
            waiting[key] = nil
            return
        }
        let next = queue.removeFirst()
        waiting[key] = queue
        next.resume()
    }
}

/// An idempotent producer's id and a partition it produces to.
struct ProducerPartition: Hashable, Sendable {
    var producer: Int64
    var partition: Int32
}

import Foundation
import Logging
import Synchronization

/// A batch written to the OS and waiting to be durable (with policy `always`).
public struct PendingAppend: Sendable {
    public let receipt: AppendReceipt
}

extension Log {
    /// Appends `batch` atomically and returns once it is durable under the log's policy.
    public func append(_ batch: [AppendRequest]) async throws -> AppendReceipt {
        let pending = try write(batch)
        try await waitUntilDurable(pending)
        return pending.receipt
    }

    public func append(_ request: AppendRequest) async throws -> AppendReceipt {
        try await append([request])
    }

    /// Writes `batch` to the OS without waiting for durability: the first half of `append`,
    /// for callers that pipeline (a server writes in arrival order and acknowledges each batch
    /// when `waitUntilDurable` returns). Throws before writing anything if any record breaks
    /// a limit; on a write error nothing of the batch is kept.
    public func write(_ batch: [AppendRequest]) throws -> PendingAppend {
        let configuration = self.configuration
        guard !batch.isEmpty else { throw LogError(.invalidArgument, "a batch needs at least one record") }
        guard batch.count <= configuration.batchRecordsMax else {
            throw LogError(.invalidArgument, "batch of \(batch.count) records exceeds the limit of \(configuration.batchRecordsMax)")
        }
        var totalBytes = 0
        for (i, r) in batch.enumerated() {
            guard r.payload.count <= configuration.payloadBytesMax else {
                throw LogError(.invalidArgument, "record \(i) (key \(r.key)) has a payload of \(r.payload.count) bytes; the limit is \(configuration.payloadBytesMax)")
            }
            totalBytes += RecordLayout.encodedBytes(keyCount: r.key.bytes.count, payloadCount: r.payload.count)
        }
        guard totalBytes <= configuration.batchBytesMax else {
            throw LogError(.invalidArgument, "batch of \(totalBytes) encoded bytes exceeds the limit of \(configuration.batchBytesMax)")
        }
        let hashes = batch.map { KeyHash($0.key) }

        return try writer.withLock { (w) throws(LogError) -> PendingAppend in
            if w.closed { throw LogError(.closed, "the log was closed") }
            if let failure = w.failure { throw failure }
            let first = w.nextPosition
            guard first + UInt64(batch.count) <= LogPosition.limit.rawValue else {
                throw LogError(.invalidArgument, "the log is full (\(LogPosition.limit) records)")
            }
            if w.active.freeBytes < totalBytes { try roll(&w) }
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            var recordedAt = max(now, w.lastRecordedAt)
            var firstRecordedAt = recordedAt

            // Chain each record to its key's previous record: the directory for keys seen
            // before this batch, `batchHeads` for keys repeated within it.
            w.batchHeads.removeAll(keepingCapacity: true)
            var sequences: [RecordSequence] = []
            sequences.reserveCapacity(batch.count)
            var offsets: [Int] = []
            offsets.reserveCapacity(batch.count)
            var cursor = 0
            let scratch = w.scratch
            var overflow: LogError?
            keys.withLock { directory in
                for (i, request) in batch.enumerated() {
                    let position = first + UInt64(i)
                    let head = w.batchHeads[hashes[i]] ?? directory.lookup(hashes[i])
                    let sequence = (head?.sequence ?? 0) + 1
                    if sequence > RecordSequence.limit {
                        overflow = LogError(.invalidArgument, "key \(request.key) already has the most records a key may have (\(RecordSequence.limit))")
                        return
                    }
                    w.batchHeads[hashes[i]] = KeyDirectory.Entry(position: position, sequence: sequence)
                    if let given = request.recordedAt {
                        recordedAt = max(given.rawValue, i == 0 ? w.lastRecordedAt : recordedAt)
                    }
                    if i == 0 { firstRecordedAt = recordedAt }
                    offsets.append(cursor)
                    cursor += request.payload.withUnsafeBytes { payload in
                        RecordLayout.encode(
                            into: scratch, at: cursor, position: position, previous: head?.position ?? RecordLayout.noPrevious,
                            recordedAt: recordedAt, sequence: sequence, type: request.type.rawValue, key: request.key.bytes,
                            payload: payload, batchEnd: i == batch.count - 1)
                    }
                    sequences.append(RecordSequence(sequence))
                }
            }
            if let overflow { throw overflow }
            precondition(cursor == totalBytes)

            do throws(LogError) {
                try w.active.append(UnsafeRawBufferPointer(rebasing: scratch[0..<cursor]), recordOffsets: offsets, lastRecordedAt: recordedAt)
            } catch {
                if error.code != .diskFull {
                    // The file may now hold part of the batch: stop appending until reopened,
                    // where recovery cuts it back to the last whole batch.
                    w.failure = LogError(.failed, "write failed: \(error.message)", file: error.file)
                }
                throw error
            }
            w.nextPosition = first + UInt64(batch.count)
            w.lastRecordedAt = recordedAt
            // Publish the new heads only now that the records are in the file: a reader that
            // finds a head can always read it.
            keys.withLock { directory in
                for (hash, entry) in w.batchHeads { directory.update(hash, entry) }
            }
            publish(end: w.nextPosition, segment: w.active)
            return PendingAppend(receipt: AppendReceipt(firstPosition: LogPosition(first), sequences: sequences, recordedAt: RecordTimestamp(rawValue: firstRecordedAt)))
        }
    }

    /// Tells the flusher there is more to sync, and (unless the policy is `always`, where
    /// the flusher does it after the sync) makes the records visible to readers.
    private func publish(end: UInt64, segment: ActiveSegment) {
        commit.lock.lock()
        commit.writtenEnd = end
        commit.writtenSegment = segment
        commit.writtenSegmentBytes = segment.writtenBytes
        var readers: [CheckedContinuation<Void, Never>] = []
        if configuration.durability == .always {
            commit.lock.broadcast()
        } else {
            committed.store(end, ordering: .releasing)
            readers = commit.takeRecordWaiters(reaching: end)
            if configuration.durability == .none { commit.durableEnd = end }
        }
        commit.lock.unlock()
        for r in readers { r.resume() }
    }

    /// Returns when `pending` is durable under the log's policy (at once, unless `always`).
    public func waitUntilDurable(_ pending: PendingAppend) async throws {
        guard configuration.durability == .always else { return }
        let end = pending.receipt.endPosition.rawValue
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            commit.lock.lock()
            if commit.durableEnd >= end {
                commit.lock.unlock()
                continuation.resume()
            } else if let failure = commit.failure {
                commit.lock.unlock()
                continuation.resume(throwing: failure)
            } else if commit.finished {
                commit.lock.unlock()
                continuation.resume(throwing: LogError(.closed, "the log was closed before the append was durable"))
            } else {
                commit.durabilityWaiters.append((end, continuation))
                commit.lock.unlock()
            }
        }
    }

    /// Closes the active segment and starts a new one (the writer lock is held). The old one is
    /// fsynced first, so a later segment never exists beside an earlier one's unsynced tail.
    func roll(_ w: inout WriterState) throws(LogError) {
        let old = w.active
        guard old.count > 0 else { return }
        do throws(LogError) {
            try old.file.syncData()
            try old.writeCommitSlot(durableBytes: old.writtenBytes)
        } catch {
            // As after any failed fsync, the page cache can no longer be trusted: fail the log,
            // including appends waiting for a sync that can no longer be believed.
            let failure = LogError(.failed, "fsync at segment roll failed: \(error.message)", file: error.file)
            w.failure = failure
            commit.fail(failure)
            throw error
        }
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let capacity = max(configuration.segmentBytesMax, SegmentFile.headerBytes + configuration.batchBytesMax)
        let new = try ActiveSegment.create(directory: path, base: old.endPosition, capacityBytes: capacity, now: now)
        do throws(LogError) { try HeadFile.write(directory: path, newestBase: new.base) } catch {
            // HEAD lagging behind is safe (open rewrites it); only one ahead of the segments
            // would be wrong. So a failure here (a full disk) does not fail the append.
            logger.warning("could not update HEAD", metadata: ["error": "\(error)"])
        }
        w.active = new
        segmentList.withLock { $0.segments.append(.active(new)) }
        enqueueForSealing(old)
    }

    /// The position the next appended record will get (written records included, durable or
    /// not).
    public var nextPosition: LogPosition {
        LogPosition(writer.withLock { $0.nextPosition })
    }

    /// Closes the active segment now, if it holds any record, and queues it for sealing.
    public func rollActiveSegment() throws {
        try writer.withLock { (w) throws(LogError) in
            if w.closed { throw LogError(.closed, "the log was closed") }
            if let failure = w.failure { throw failure }
            try roll(&w)
            publish(end: w.nextPosition, segment: w.active)
        }
    }
}

import Synchronization

extension Log {
    /// The record at `position`.
    public func record(at position: LogPosition) throws -> Record {
        try withRecord(at: position) { $0.copy() }
    }

    /// Runs `body` on the record at `position` in place (no copy). The view is valid only
    /// inside `body`.
    public func withRecord<T>(at position: LogPosition, _ body: (RecordView) throws -> T) throws -> T {
        let end = committed.load(ordering: .acquiring)
        guard position.rawValue < end else {
            throw LogError(.notFound, "position \(position) is past the end of the log (\(end))")
        }
        return try withAnyRecord(at: position.rawValue, body)
    }

    /// Like `withRecord`, for positions the caller knows are written (a head from the key
    /// directory may be written but not yet committed).
    func withAnyRecord<T>(at position: UInt64, _ body: (RecordView) throws -> T) throws -> T {
        let list = segmentList.withLock { $0 }
        guard let index = list.index(containing: position) else {
            throw LogError(.notFound, "no segment holds position \(position)")
        }
        switch list.segments[index] {
        case .active(let segment):
            guard segment.holds(position) else {
                throw LogError(.corruption, "position \(position) is past what the log has written (a damaged chain or index)", file: segment.path)
            }
            let bytes = segment.recordBytes(at: position)
            try checkRecord(bytes, position: position, path: segment.path, offset: UInt64(segment.offset(of: position)))
            return try body(RecordView(bytes: bytes))
        case .sealed(let segment):
            guard position < segment.endPosition else {
                throw LogError(.corruption, "position \(position) is not in the segment that should hold it (a damaged chain or index)", file: segment.path)
            }
            let b = segment.blockIndex(containing: position)
            let block = try cachedBlock(segment, b)
            let bytes = block.recordBytes(at: position)
            try checkRecord(bytes, position: position, path: segment.path, offset: segment.blocks[b].fileOffset)
            return try body(RecordView(bytes: bytes))
        }
    }

    private func checkRecord(_ bytes: UnsafeRawBufferPointer, position: UInt64, path: String, offset: UInt64) throws(LogError) {
        switch RecordLayout.validate(bytes, at: 0, expectedPosition: position) {
        case .failure(let problem):
            throw LogError(.corruption, "record \(position): \(problem.message)", file: path, offset: offset)
        case .success(let length) where length != bytes.count:
            throw LogError(.corruption, "record \(position) claims \(length) bytes where \(bytes.count) were written", file: path, offset: offset)
        case .success:
            return
        }
    }

    /// Every committed record of `key`, oldest first. Follows the key's chain back from its
    /// newest record, so the cost is one step per record of the key.
    ///
    /// With `includingUnsynced`, also the records written but not yet durable (under policy
    /// `always`): what the single writer above the log (the order store) must validate new
    /// appends against, since they will be durable before anything after them.
    public func records(forKey key: LogKey, includingUnsynced: Bool = false) throws -> [Record] {
        try records(forKey: key, includingUnsynced: includingUnsynced, from: LogPosition(0))
    }

    /// The committed records of `key` at or after position `start`, oldest first: the chain is
    /// walked back from the newest and stops at the first record below `start` (a reader that
    /// holds the key's state as of `start` — a checkpoint — reads only what follows it).
    public func records(forKey key: LogKey, includingUnsynced: Bool = false, from start: LogPosition) throws -> [Record] {
        let hash = KeyHash(key)
        guard let head = keys.withLock({ $0.lookup(hash) }) else { return [] }
        let end = includingUnsynced ? UInt64.max : committed.load(ordering: .acquiring)
        var result: [Record] = []
        // The sequence comes from the files: a damaged one (up to 2^24 - 1) must not reserve
        // a gigabyte before the chain is walked. Past the cap the array grows as it goes.
        result.reserveCapacity(min(Int(head.sequence), 1024))
        var next: UInt64? = head.position
        var expectedSequence = head.sequence
        while let position = next {
            // Below `start`: the caller has what came before. (The full-chain checks end here.)
            if position < start.rawValue { expectedSequence = 0; break }
            next = try withAnyRecord(at: position) { (view) throws -> UInt64? in
                guard view.keyBytes.elementsEqual(key.bytes) else {
                    throw LogError(.corruption, "record \(position) in the chain of key \(key) belongs to another key (hash collision or damaged chain)")
                }
                guard view.sequence.rawValue == expectedSequence else {
                    throw LogError(.corruption, "record \(position) of key \(key) has sequence \(view.sequence) where \(expectedSequence) was expected")
                }
                if position < end { result.append(view.copy(key: key)) }
                if let previous = view.previousPosition?.rawValue, previous >= position {
                    throw LogError(.corruption, "record \(position) of key \(key) points forward to \(previous)")
                }
                return view.previousPosition?.rawValue
            }
            expectedSequence &-= 1
        }
        guard expectedSequence == 0 else {
            throw LogError(.corruption, "the chain of key \(key) ends at sequence \(expectedSequence + 1), not 1")
        }
        result.reverse()
        return result
    }

    /// The number of committed-or-written records of `key` and its newest position (nil when
    /// the key has none).
    public func head(forKey key: LogKey) -> (sequence: RecordSequence, position: LogPosition)? {
        keys.withLock { $0.lookup(KeyHash(key)) }.map { (RecordSequence($0.sequence), LogPosition($0.position)) }
    }

    /// Up to `limit` committed records from `position` on.
    public func records(from position: LogPosition, limit: Int) throws -> [Record] {
        var result: [Record] = []
        try scan(from: position) { view in
            result.append(view.copy())
            return result.count < limit
        }
        return result
    }

    /// Visits committed records in order from `position` until `body` returns false or the
    /// end is reached. Every record's checksum and position are checked. Sealed blocks are
    /// decompressed one at a time and not cached, so a scan costs little memory and leaves
    /// the block cache to point reads. Returns the position after the last record visited.
    @discardableResult
    public func scan(from position: LogPosition, to endPosition: LogPosition? = nil, _ body: (RecordView) throws -> Bool) throws -> LogPosition {
        try scan(from: position, to: endPosition, managingPages: true, body)
    }

    /// `scan`; `managingPages`: advise the kernel about each sealed segment's pages (read ahead,
    /// then drop) — off when several scans read parts of one segment at once
    /// (`scanPartitioned`), where one would drop the pages another is reading.
    func scan(from position: LogPosition, to endPosition: LogPosition?, managingPages: Bool, _ body: (RecordView) throws -> Bool) throws -> LogPosition {
        let end = min(endPosition?.rawValue ?? .max, committed.load(ordering: .acquiring))
        var next = position.rawValue
        guard next < end else { return LogPosition(next) }
        let list = segmentList.withLock { $0 }
        guard var s = list.index(containing: next) else { throw LogError(.notFound, "no segment holds position \(next)") }
        while next < end && s < list.segments.count {
            let segmentEnd = s + 1 < list.segments.count ? min(end, list.segments[s + 1].base) : end
            switch list.segments[s] {
            case .active(let segment):
                let area = segment.recordArea(from: next, to: segmentEnd)
                var offset = 0
                while next < segmentEnd {
                    switch RecordLayout.validate(area, at: offset, expectedPosition: next) {
                    case .failure(let problem):
                        throw LogError(.corruption, "record \(next): \(problem.message)", file: segment.path, offset: UInt64(segment.offset(of: next)))
                    case .success(let length):
                        let keepGoing = try body(RecordView(bytes: UnsafeRawBufferPointer(rebasing: area[offset..<(offset + length)])))
                        offset += length
                        next += 1
                        if !keepGoing { return LogPosition(next) }
                    }
                }
            case .sealed(let segment):
                if managingPages { segment.map.adviseWillNeed() }
                var b = segment.blockIndex(containing: next)
                while next < segmentEnd {
                    let block = try segment.scanBlock(b)
                    let bytes = block.bytes
                    var i = Int(next - block.firstPosition)
                    while i < block.recordCount && next < segmentEnd {
                        let offset = Int(block.offsets[i])
                        switch RecordLayout.validate(bytes, at: offset, expectedPosition: next) {
                        case .failure(let problem):
                            throw LogError(.corruption, "record \(next): \(problem.message)", file: segment.path, offset: segment.blocks[b].fileOffset)
                        case .success(let length):
                            let keepGoing = try body(RecordView(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])))
                            next += 1
                            i += 1
                            if !keepGoing { return LogPosition(next) }
                        }
                    }
                    b += 1
                }
                // The scan is done with this segment; do not keep its pages resident.
                if managingPages { segment.map.dropResidentPages() }
            }
            s += 1
        }
        return LogPosition(next)
    }

    /// The first committed position recorded at or after `time`, or `endPosition` if none.
    /// Recorded-at times never decrease along positions, so this is a binary search: over
    /// segments, then blocks (or, in an active segment, records), then within one block.
    public func firstPosition(recordedAtOrAfter time: RecordTimestamp) throws -> LogPosition {
        let end = committed.load(ordering: .acquiring)
        let list = segmentList.withLock { $0 }
        let t = time.rawValue
        // Last segment whose first record is before `time`; the answer is in it or just after.
        var candidate: Int? = nil
        var low = 0, high = list.segments.count - 1
        while low <= high {
            let mid = (low + high) / 2
            guard let first = firstRecordedAt(list.segments[mid], end: end) else { high = mid - 1; continue }
            if first < t { candidate = mid; low = mid + 1 } else { high = mid - 1 }
        }
        guard let s = candidate else { return LogPosition(list.segments.first.map { min($0.base, end) } ?? 0) }
        let segmentEnd = min(end, s + 1 < list.segments.count ? list.segments[s + 1].base : end)
        switch list.segments[s] {
        case .active(let segment):
            var lo = segment.base, hi = segmentEnd
            while lo < hi {
                let mid = (lo + hi) / 2
                if segment.recordedAt(of: mid) < t { lo = mid + 1 } else { hi = mid }
            }
            return LogPosition(lo)
        case .sealed(let segment):
            var lo = 0, hi = segment.blocks.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if segment.blocks[mid].firstRecordedAt < t { lo = mid } else { hi = mid - 1 }
            }
            let block = try cachedBlock(segment, lo)
            var a = 0, b = block.recordCount
            while a < b {
                let mid = (a + b) / 2
                if block.bytes.i64(Int(block.offsets[mid]) + 24) < t { a = mid + 1 } else { b = mid }
            }
            return LogPosition(min(block.firstPosition + UInt64(a), segmentEnd))
        }
    }

    private func firstRecordedAt(_ segment: SegmentHandle, end: UInt64) -> Int64? {
        switch segment {
        case .active(let s): s.base < end ? s.recordedAt(of: s.base) : nil
        case .sealed(let s): s.blocks.first?.firstRecordedAt
        }
    }

    /// Returns once the log's end is past `position` (a record at `position` is readable):
    /// true. Returns false instead when the log is closed or the calling task is cancelled, so
    /// a follow loop knows to stop. The basis of live subscriptions: catch up with `scan`,
    /// then wait here for more.
    @discardableResult
    public func waitForRecords(after position: LogPosition) async -> Bool {
        if committed.load(ordering: .acquiring) > position.rawValue { return true }
        let id: UInt64 = commit.lock.withLock {
            commit.nextWaiterID += 1
            return commit.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                commit.lock.lock()
                if committed.load(ordering: .acquiring) > position.rawValue || commit.finished || Task.isCancelled {
                    commit.lock.unlock()
                    continuation.resume()
                } else {
                    commit.recordWaiters[id] = (position.rawValue, continuation)
                    commit.lock.unlock()
                }
            }
        } onCancel: {
            let waiter = commit.lock.withLock { commit.recordWaiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
        return committed.load(ordering: .acquiring) > position.rawValue
    }
}

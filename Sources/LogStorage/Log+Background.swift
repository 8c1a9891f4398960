import Foundation
import Logging
import Synchronization

/// The flusher (group commit) and the sealer: the log's two background threads.
extension Log {
    func startBackgroundThreads() {
        commit.lock.withLock {
            if configuration.durability != .none { commit.flusherRunning = true }
            if configuration.sealsInBackground { commit.sealerRunning = true }
        }
        if configuration.durability != .none {
            let thread = Thread { [self] in runFlusher() }
            thread.name = "orderlog-flusher"
            thread.start()
        }
        if configuration.sealsInBackground {
            let thread = Thread { [self] in
                // Sealing is bulk work with no one waiting on it: at a lower priority it
                // yields the cores to appends, acknowledgements and readers, whose latency is
                // what clients see (2 cores: a sealing burst otherwise stalls them for ms).
                #if os(Linux)
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0 /* on Linux: the calling thread */, 10)
                #endif
                runSealer()
            }
            thread.name = "orderlog-sealer"
            thread.start()
        }
    }

    /// Stops both threads and waits for them; the flusher first syncs what is pending.
    func stopBackgroundThreads() {
        commit.lock.lock()
        commit.stopFlusher = true
        commit.stopSealer = true
        commit.lock.broadcast()
        while commit.flusherRunning || commit.sealerRunning { commit.lock.wait() }
        commit.lock.unlock()
    }

    /// Group commit. Appenders write their records and wait; this thread syncs everything
    /// written so far with one fdatasync, then releases every appender it covered. Appends
    /// that arrive during a sync are covered by the next one, so the number of fsyncs adapts
    /// to the load instead of growing with it.
    private func runFlusher() {
        let interval: Int? = if case .interval(let ms) = configuration.durability { ms } else { nil }
        var nextSync = ContinuousClock.now
        commit.lock.lock()
        while true {
            if let interval {
                // Wake-ups for other reasons (the lock's condition is shared) must not sync
                // early: sleep until the interval since the last sync has passed.
                while !commit.stopFlusher && commit.failure == nil && ContinuousClock.now < nextSync {
                    let remaining = nextSync - ContinuousClock.now
                    commit.lock.wait(milliseconds: max(1, Int(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
                }
                nextSync = ContinuousClock.now + .milliseconds(interval)
            } else {
                while commit.writtenEnd == commit.durableEnd && !commit.stopFlusher && commit.failure == nil { commit.lock.wait() }
            }
            if commit.failure != nil || (commit.stopFlusher && commit.writtenEnd == commit.durableEnd) { break }
            if commit.writtenEnd == commit.durableEnd { continue }
            let target = commit.writtenEnd, segment = commit.writtenSegment, bytes = commit.writtenSegmentBytes
            commit.lock.unlock()

            var failure: LogError?
            let syncStarted = ContinuousClock.now
            do {
                try segment.file.syncData()
                configuration.syncObserver?(ContinuousClock.now - syncStarted)
                // The commit slot names what is now durable; it is itself made durable by the
                // next sync (docs/FORMAT.md, "Recovery").
                try segment.writeCommitSlot(durableBytes: bytes)
            } catch {
                failure = error
            }

            commit.lock.lock()
            if let failure {
                logger.critical("fsync failed; the log refuses further appends until reopened", metadata: ["error": "\(failure)"])
                let error = LogError(.failed, "fsync failed: \(failure.message)", file: failure.file)
                commit.lock.unlock()
                commit.fail(error)
                writer.withLock { $0.failure = error }
                commit.lock.lock()
                break
            }
            commit.durableEnd = max(commit.durableEnd, target)
            var readers: [CheckedContinuation<Void, Never>] = []
            if configuration.durability == .always {
                committed.store(commit.durableEnd, ordering: .releasing)
                readers = commit.takeRecordWaiters(reaching: commit.durableEnd)
            }
            let durable = commit.takeDurabilityWaiters(reaching: commit.durableEnd)
            commit.lock.unlock()
            for w in durable { w.resume() }
            for r in readers { r.resume() }
            commit.lock.lock()
        }
        commit.flusherRunning = false
        commit.lock.broadcast()
        commit.lock.unlock()
    }

    /// Seals rolled segments one at a time, oldest first.
    private func runSealer() {
        var retryDelay = 1
        commit.lock.lock()
        while true {
            while commit.sealQueue.isEmpty && !commit.stopSealer { commit.lock.wait() }
            if commit.stopSealer { break }
            let segment = commit.sealQueue.removeFirst()
            commit.sealing = true
            commit.lock.unlock()
            let outcome = sealOne(segment)
            commit.lock.lock()
            commit.sealing = false
            switch outcome {
            case .sealed:
                retryDelay = 1
            case .retryLater:
                // A full disk: the segment is whole and readable as it is; try again once
                // space may have been freed, waiting longer each time (up to 10 s).
                commit.sealQueue.insert(segment, at: 0)
                commit.lock.broadcast()
                let until = ContinuousClock.now + .seconds(retryDelay)
                while !commit.stopSealer && ContinuousClock.now < until { commit.lock.wait(milliseconds: 200) }
                retryDelay = min(retryDelay * 2, 10)
            case .failed:
                // Segments are sealed oldest first; after a failure, stop rather than seal
                // around the hole (the next open retries from the first unsealed segment).
                commit.sealQueue.removeAll()
                commit.sealFailed = true
            }
            commit.lock.broadcast()
        }
        commit.sealerRunning = false
        commit.lock.broadcast()
        commit.lock.unlock()
    }

    enum SealOutcome { case sealed, retryLater, failed }

    /// Seals `segment`, swaps it into the segment list, and removes its `.log`. On failure
    /// the `.log` stays (it is complete and readable), the half-written files go, and a full
    /// disk is worth another try later; any other failure waits for the next open.
    @discardableResult
    func sealOne(_ segment: ActiveSegment) -> SealOutcome {
        do {
            let sealed = try SegmentSealer.seal(
                segment, directory: path, blockBytesTarget: configuration.blockBytesTarget,
                dictionaryBytesTarget: configuration.dictionaryBytesTarget)
            segmentList.withLock { $0.replace(base: segment.base, with: .sealed(sealed)) }
            try SystemFile.remove(segment.path)
            try SystemFile.syncDirectory(path)
            logger.debug("sealed segment", metadata: ["base": "\(segment.base)", "records": "\(sealed.recordCount)"])
            return .sealed
        } catch {
            // A half-written .tmp holds space a full disk needs back.
            for kind in [SegmentFile.Kind.seg, .idx] {
                try? SystemFile.remove(path + "/" + SegmentFile.name(base: segment.base, kind) + ".tmp")
            }
            if error.code == .diskFull {
                logger.warning("sealing paused: the disk is full; the segment stays uncompressed and is sealed when space is freed", metadata: ["segment": "\(segment.path)", "error": "\(error)"])
                return .retryLater
            }
            logger.error("sealing failed; this and later segments stay uncompressed until the log is reopened", metadata: ["segment": "\(segment.path)", "error": "\(error)"])
            return .failed
        }
    }

    func enqueueForSealing(_ segment: ActiveSegment) {
        commit.lock.withLock {
            if commit.sealFailed { return }
            commit.sealQueue.append(segment)
            commit.lock.broadcast()
        }
    }

    /// Seals every rolled segment now (on this thread when background sealing is off),
    /// or waits until the background sealer has. For tools and deterministic tests.
    public func sealPendingSegments() {
        if configuration.sealsInBackground {
            commit.lock.lock()
            while (!commit.sealQueue.isEmpty || commit.sealing) && commit.sealerRunning { commit.lock.wait() }
            commit.lock.unlock()
            return
        }
        while true {
            let next: ActiveSegment? = commit.lock.withLock {
                commit.sealQueue.isEmpty || commit.sealFailed ? nil : commit.sealQueue.removeFirst()
            }
            guard let next else { return }
            if sealOne(next) != .sealed { commit.lock.withLock { commit.sealQueue.removeAll(); commit.sealFailed = true } }
        }
    }
}

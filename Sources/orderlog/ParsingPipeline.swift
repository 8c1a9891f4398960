import Foundation
import OrderModel
import OrderStore
import Synchronization

/// Reads and decodes an import's JSONL on a thread of its own while the caller appends the
/// previous batch: the two halves of an import (JSON parsing, then checks and writes) run on
/// both cores (issue 11). What comes out is exactly what the one-thread loop produced, in the
/// same order — batches of `batch` decoded lines, each invalid line with the valid lines before
/// it — so an import stops, skips and counts as before. At most `ahead` items wait, so memory
/// stays bounded however far the reader could run ahead.
final class ParsingPipeline: Sendable {
    /// Decoded lines: the events in their binary form, and the line number of each (two
    /// arrays, so the events go to the store as they are, not copied out of pairs).
    struct Lines: Sendable {
        var events: [AppendRecord] = []
        var numbers: [Int] = []
        var count: Int { events.count }
    }

    enum Item: Sendable {
        /// `batch` decoded lines; `lastLine`: the line that completed it; `checked`: the
        /// batch through the store's stateless checks, when they passed (nil: the writer
        /// checks it again and reports what failed).
        case batch(Lines, lastLine: Int, checked: OrderStore.CheckedBatch?)
        /// The lines decoded before `line`, which did not decode.
        case invalid(Lines, line: Int, code: String, message: String)
        /// The lines left at the end of the input; `lines`: how many lines it had.
        case end(Lines, lines: Int)
        /// The input could not be read.
        case failed(String)
    }

    let items: AsyncStream<Item>
    private let room: DispatchSemaphore
    /// Raised by `stop()`, read by the reading thread.
    private final class StopSignal: Sendable {
        private let value = Atomic(false)
        func raise() { value.store(true, ordering: .releasing) }
        var isRaised: Bool { value.load(ordering: .acquiring) }
    }
    private let stopped = StopSignal()

    /// Starts reading `file` (or standard input for "-"). `check`, if given, runs on the
    /// reading thread over each full batch (an embedded import's `OrderStore.check`).
    init(file: String, batch: Int, ahead: Int = 4, check: (@Sendable ([AppendRecord]) -> OrderStore.CheckedBatch?)? = nil) throws {
        let handle: FileHandle
        if file == "-" { handle = .standardInput } else {
            guard let h = FileHandle(forReadingAtPath: file) else { throw CLIError("cannot open \(file)") }
            handle = h
        }
        let (items, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .unbounded)
        self.items = items
        let room = DispatchSemaphore(value: ahead)
        self.room = room
        let stopped = self.stopped
        let box = UncheckedHandle(handle: handle)
        let thread = Thread {
            let reader = LineReader(handle: box.handle)
            func send(_ item: Item) -> Bool {
                room.wait()
                if stopped.isRaised { return false }
                continuation.yield(item)
                return true
            }
            var pending = Lines()
            func reset() {
                pending = Lines()
                pending.events.reserveCapacity(batch)
                pending.numbers.reserveCapacity(batch)
            }
            reset()
            var lines = 0
            var aborted = false
            do {
                reading: while let (number, bytes) = try reader.next() {
                    lines = number
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                    do throws(OrderError) {
                        // Straight to the binary form the store keeps: no OrderEvent.
                        let decoded = try OrderEvent.decodeJSONRecord(bytes)
                        pending.events.append(AppendRecord(orderID: decoded.orderID, type: decoded.type, payload: decoded.payload,
                                                           expectedVersion: decoded.expectedVersion, recordedAt: decoded.recordedAt))
                        pending.numbers.append(number)
                    } catch {
                        guard send(.invalid(pending, line: number, code: error.code.rawValue, message: error.detail)) else { aborted = true; break reading }
                        reset()
                        continue
                    }
                    if pending.count >= batch {
                        let checked = check?(pending.events)
                        guard send(.batch(pending, lastLine: number, checked: checked)) else { aborted = true; break reading }
                        reset()
                    }
                }
                if !aborted { _ = send(.end(pending, lines: lines)) }
            } catch {
                if !aborted { _ = send(.failed("reading \(file): \(error)")) }
            }
            continuation.finish()
        }
        thread.start()
    }

    /// The caller took an item: the reader may go on.
    func took() { room.signal() }

    /// The caller needs no more: the reader stops at its next item.
    func stop() {
        stopped.raise()
        room.signal()
    }
}

/// A file handle handed to the reading thread, which alone uses it from then on.
private struct UncheckedHandle: @unchecked Sendable {
    let handle: FileHandle
}

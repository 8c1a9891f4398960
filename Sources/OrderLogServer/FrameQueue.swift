import Synchronization

/// The frames cut from one connection's bytes, waiting to be answered in order: the
/// connection's reader puts them, its answerer takes them. While `bytesMax` bytes or more
/// wait, the reader waits too — it stops reading the socket, so a client that sends faster
/// than it is answered is held back by TCP, not by this server's memory. One putter and one
/// taker.
final class FrameQueue<Item: Sendable>: Sendable {
    let bytesMax: Int
    private struct State: ~Copyable {
        /// Waiting items from `head` on; those before it were taken (nil: not kept alive).
        var items: [(item: Item, bytes: Int)?] = []
        var head = 0
        var bytes = 0
        var closed = false
        var taker: CheckedContinuation<Item?, Never>?
        var putter: CheckedContinuation<Void, Never>?

        /// The first item, and the putter to wake now that there is room.
        mutating func pop() -> (Item, CheckedContinuation<Void, Never>?)? {
            guard head < items.count, let (item, n) = items[head] else { return nil }
            items[head] = nil
            head += 1
            bytes -= n
            // The taken slots go once they are half the array (a queue that never empties
            // would otherwise keep every slot it ever had).
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 && head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            var woken: CheckedContinuation<Void, Never>?
            if bytes < bytesMax { woken = putter; putter = nil }
            return (item, woken)
        }
        let bytesMax: Int
    }
    private enum PutStep { case added(CheckedContinuation<Item?, Never>?), wait, closed }
    private enum TakeStep { case item(Item, CheckedContinuation<Void, Never>?), wait, end }
    private let state: Mutex<State>

    /// Slots held, taken ones not yet dropped included (tests: they stay bounded).
    var slotCount: Int { state.withLock { $0.items.count } }

    init(bytesMax: Int) {
        self.bytesMax = bytesMax
        state = Mutex(State(bytesMax: bytesMax))
    }

    /// Adds `item` (of `bytes` bytes) at the end, once fewer than `bytesMax` bytes wait.
    /// Returns false, adding nothing, once the queue is closed.
    func put(_ item: Item, bytes: Int) async -> Bool {
        while true {
            let step: PutStep = state.withLock { s in
                if s.closed { return .closed }
                guard s.bytes < s.bytesMax else { return .wait }
                if let taker = s.taker {
                    s.taker = nil
                    return .added(taker)  // handed straight to the waiting taker (who waits only on an empty queue)
                }
                s.items.append((item, bytes))
                s.bytes += bytes
                return .added(nil)
            }
            switch step {
            case .closed: return false
            case .added(let taker):
                taker?.resume(returning: item)
                return true
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s in
                        if s.closed || s.bytes < s.bytesMax { return true }
                        precondition(s.putter == nil, "one putter at a time")
                        s.putter = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            }
        }
    }

    /// The next item, waiting for one; nil once the queue is closed and empty.
    func take() async -> Item? {
        let step: TakeStep = state.withLock { s in
            if let (item, putter) = s.pop() { return .item(item, putter) }
            return s.closed ? .end : .wait
        }
        switch step {
        case .item(let item, let putter):
            putter?.resume()
            return item
        case .end:
            return nil
        case .wait:
            return await withCheckedContinuation { (c: CheckedContinuation<Item?, Never>) in
                let now: TakeStep = state.withLock { s in
                    if let (item, putter) = s.pop() { return .item(item, putter) }
                    if s.closed { return .end }
                    precondition(s.taker == nil, "one taker at a time")
                    s.taker = c
                    return .wait
                }
                switch now {
                case .item(let item, let putter): putter?.resume(); c.resume(returning: item)
                case .end: c.resume(returning: nil)
                case .wait: break  // parked: a put or close resumes it
                }
            }
        }
    }

    /// No more items: a waiting taker gets nil (none are left when one waits), a waiting or
    /// later putter returns false.
    func close() {
        let (taker, putter): (CheckedContinuation<Item?, Never>?, CheckedContinuation<Void, Never>?) = state.withLock { s in
            s.closed = true
            let t = s.taker, p = s.putter
            s.taker = nil
            s.putter = nil
            return (t, p)
        }
        taker?.resume(returning: nil)
        putter?.resume()
    }
}

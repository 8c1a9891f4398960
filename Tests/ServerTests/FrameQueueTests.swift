import Synchronization
import Testing
@testable import OrderLogServer

@Suite("Frame queue")
struct FrameQueueTests {
    @Test("items come out in the order put; a putter waits while the queue holds its byte limit and goes on once an item is taken")
    func orderAndBackpressure() async throws {
        let queue = FrameQueue<Int>(bytesMax: 10)
        #expect(await queue.put(1, bytes: 6))
        #expect(await queue.put(2, bytes: 6))  // 6 < 10 waiting: taken in
        let putThird = Atomic<Bool>(false)
        let third = Task { let put = await queue.put(3, bytes: 1); putThird.store(true, ordering: .relaxed); return put }  // 12 waiting: held back
        try await Task.sleep(for: .milliseconds(100))
        let thirdWasPut = putThird.load(ordering: .relaxed)
        #expect(!thirdWasPut, "a put past the byte limit waits")
        #expect(await queue.take() == 1)
        #expect(await third.value)
        #expect(await queue.take() == 2)
        #expect(await queue.take() == 3)
    }

    @Test("a taker waiting on an empty queue gets the next item put, or nil once it is closed; what was put before a close is still taken; a put after it is refused")
    func closeEndsTheQueue() async throws {
        let queue = FrameQueue<Int>(bytesMax: 100)
        let waiting = Task { await queue.take() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await queue.put(7, bytes: 1))
        #expect(await waiting.value == 7)
        #expect(await queue.put(8, bytes: 1))
        queue.close()
        #expect(await queue.take() == 8)
        #expect(await queue.take() == nil)
        #expect(await queue.put(9, bytes: 1) == false)
        let late = FrameQueue<Int>(bytesMax: 100)
        let parked = Task { await late.take() }
        try await Task.sleep(for: .milliseconds(50))
        late.close()
        #expect(await parked.value == nil)
    }

    @Test("a putter held back by a full queue is let go, refused, when the queue is closed")
    func closeReleasesAHeldPutter() async throws {
        let queue = FrameQueue<Int>(bytesMax: 1)
        #expect(await queue.put(1, bytes: 5))
        let held = Task { await queue.put(2, bytes: 1) }
        try await Task.sleep(for: .milliseconds(50))
        queue.close()
        #expect(await held.value == false)
    }

    @Test("a queue that never empties — one put, one taken, a few always waiting — keeps a bounded number of slots")
    func neverEmptyQueueStaysSmall() async {
        let queue = FrameQueue<Int>(bytesMax: 1 << 20)
        for k in 0..<3 { #expect(await queue.put(k, bytes: 1)) }
        for k in 3..<10_000 {
            #expect(await queue.put(k, bytes: 1))
            #expect(await queue.take() == k - 3)
        }
        #expect(queue.slotCount < 200)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A mutex with a condition variable, for the log's two background threads (flusher and
/// sealer), which sleep until there is work. Async callers never wait on it; they park a
/// continuation instead.
final class ConditionLock: @unchecked Sendable {
    // @unchecked: the pthread objects are only touched through pthread calls.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
        cond.deallocate(); mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }

    /// Call with the lock held.
    func wait() { pthread_cond_wait(cond, mutex) }

    /// Call with the lock held. Returns after `milliseconds` at the latest.
    func wait(milliseconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var nanos = Int(now.tv_nsec) + (milliseconds % 1000) * 1_000_000
        var deadline = timespec(tv_sec: now.tv_sec + milliseconds / 1000, tv_nsec: 0)
        if nanos >= 1_000_000_000 { deadline.tv_sec += 1; nanos -= 1_000_000_000 }
        deadline.tv_nsec = nanos
        pthread_cond_timedwait(cond, mutex, &deadline)
    }

    func broadcast() { pthread_cond_broadcast(cond) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex, for state shared between threads and tasks.
///
/// Like `Synchronization.Mutex`, but ThreadSanitizer can see it: on Linux, `Mutex` locks with
/// futex calls from the uninstrumented standard library, so TSan reports every access made
/// under it as a race (a ten-line program of two threads incrementing under a `Mutex` is
/// reported). With this lock, `swift test --sanitize=thread` reports only real races.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: consuming Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held and the value to read or change.
    @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

import Dispatch
import Synchronization

/// A value computed on a Dispatch worker, awaited without holding a thread: the event loop
/// that asks for it is free to serve its other connections until it is there.
final class WorkerResult<Value: Sendable>: Sendable {
    private struct State: ~Copyable {
        var value: Value?
        var waiting: [CheckedContinuation<Value, Never>] = []
    }
    private let state = Mutex(State())

    /// Starts `compute` on a worker.
    init(_ compute: @escaping @Sendable () -> Value) {
        DispatchQueue.global().async {
            let v = compute()
            let waiting = self.state.withLock { s in
                s.value = v
                let w = s.waiting
                s.waiting = []
                return w
            }
            for c in waiting { c.resume(returning: v) }
        }
    }

    /// The value, once computed.
    var value: Value {
        get async {
            if let v = state.withLock({ $0.value }) { return v }
            return await withCheckedContinuation { (c: CheckedContinuation<Value, Never>) in
                let ready: Value? = state.withLock { s in
                    if let v = s.value { return v }
                    s.waiting.append(c)
                    return nil
                }
                if let ready { c.resume(returning: ready) }
            }
        }
    }
}

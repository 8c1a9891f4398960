#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Synchronization

/// SIGINT and SIGTERM, caught by a handler that writes the signal's number to a pipe, and
/// acted on by one thread that reads the pipe.
///
/// libdispatch's signal sources on Linux read a signalfd, which sees a signal only if every
/// thread blocks it; NIO's event loop threads and the main thread do not, so a SIGTERM now
/// and then went to a thread's default action or was lost, and the server kept running. A
/// handler runs on whichever thread the kernel picks, and does only what is safe there:
/// `write(2)`.
///
/// Until a command installs a handler the signals do what they always do (the process ends);
/// `orderlog serve` installs one that shuts the server down in order.
enum TerminationSignals {
    private static let handler = Mutex<(@Sendable (Int32) -> Void)?>(nil)

    /// From now on SIGINT and SIGTERM call `handle` (on the signal thread) instead of ending
    /// the process.
    static func onSignal(_ handle: @escaping @Sendable (Int32) -> Void) {
        let first = handler.withLock { h in
            defer { h = handle }
            return h == nil
        }
        if first { takeOver() }
    }

    private static func takeOver() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        signalPipe.store(fds[1], ordering: .releasing)
        let reader = fds[0]
        let thread = Thread {
            while true {
                var number: UInt8 = 0
                let n = read(reader, &number, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { return }
                if let handle = handler.withLock({ $0 }) { handle(Int32(number)) }
            }
        }
        thread.name = "orderlog-signals"
        thread.start()
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipe.load(ordering: .acquiring), &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }
}

/// The pipe's write end, read by the signal handler (an atomic load is async-signal-safe).
private let signalPipe = Atomic<Int32>(-1)

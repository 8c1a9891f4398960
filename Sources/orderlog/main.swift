import ArgumentParser
import NIOCore
import NIOPosix

// Swift Concurrency's jobs run on NIO's event loop threads: a request read by the server, or a
// response read by the client, continues on the thread that read it instead of waking a
// second pool. On this 2-core machine that halves the thread hand-offs of every round trip.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

// Inside a function: in top-level code, overload resolution picks `ParsableCommand`'s
// synchronous `main()`, which only prints help for asynchronous subcommands.
func runCommand() async {
    await OrderLogCommand.main(nil)
}
await runCommand()

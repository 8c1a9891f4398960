// Appends to a log with policy `always` from several concurrent tasks and prints one line per
// batch the log reported durable: "ACK <task> <batch> <first position> <count>". The crash
// test kills this process with SIGKILL at a random moment and checks the log against the
// lines it read. Each record's payload names its task, batch, index and batch size, so the
// test can tell a whole batch from a partial one.
import Foundation
import LogStorage

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: logstorage-crash-child DIR [TASKS [RUN]]\n".utf8))
    exit(2)
}
let directory = arguments[1]
let tasks = arguments.count > 2 ? Int(arguments[2]) ?? 4 : 4
let run = arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0

var configuration = LogConfiguration()
configuration.segmentBytesMax = 256 << 10  // small, so kills also land during rolls and seals
configuration.batchBytesMax = 128 << 10
configuration.durability = .always
let log = try Log.open(path: directory, configuration: configuration)

func payload(task: Int, batch: Int, index: Int, size: Int) -> [UInt8] {
    Array("r\(run) t\(task) b\(batch) i\(index) n\(size) ".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: batch), count: 60 + (batch % 40))
}

let output = FileHandle.standardOutput
await withTaskGroup(of: Void.self) { group in
    for task in 0..<tasks {
        group.addTask {
            var batch = 0
            while true {
                let size = 1 + (batch * 7 + task) % 23
                let requests = (0..<size).map { i in
                    AppendRequest(key: try! LogKey("order-\(task)-\((batch + i) % 17)"), type: RecordType(UInt16(task)),
                                  payload: payload(task: task, batch: batch, index: i, size: size))
                }
                do {
                    let receipt = try await log.append(requests)
                    output.write(Data("ACK \(task) \(batch) \(receipt.firstPosition) \(receipt.count)\n".utf8))
                } catch {
                    FileHandle.standardError.write(Data("append failed: \(error)\n".utf8))
                    exit(1)
                }
                batch += 1
            }
        }
    }
}

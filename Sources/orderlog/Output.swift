import Foundation
import OrderModel

/// Buffered writes to standard output (export prints millions of lines).
final class OutputBuffer {
    private var buffer: [UInt8] = []
    private let handle: FileHandle

    init(handle: FileHandle = .standardOutput) {
        self.handle = handle
        buffer.reserveCapacity(1 << 20)
    }

    func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Minor units as a decimal amount with the currency, by its ISO 4217 exponent
/// (`Currency.format`): "1,234.50 USD", "2,499 JPY", "12.345 BHD".
func money(_ minor: Int64, _ currency: String) -> String { Currency.format(minor, currency) }

func timeText(_ micros: Int64?) -> String {
    micros.map { EventTime(microseconds: $0).rfc3339 } ?? "-"
}

/// Parses `--as-of` values: an RFC 3339 time.
func parseTime(_ text: String) throws -> Int64 {
    do { return try EventTime(rfc3339: text).microseconds } catch {
        throw CLIError("--as-of: \(error.message)")
    }
}

func parseOrderID(_ text: String) throws -> OrderID {
    do { return try OrderID(text) } catch { throw CLIError(error.message) }
}

/// An error the CLI reports as its message alone, with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Left-aligned columns for human output.
func table(_ rows: [[String]]) -> String {
    guard let width = rows.first?.count else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count) }.joined(separator: "  ")
    }.joined(separator: "\n")
}

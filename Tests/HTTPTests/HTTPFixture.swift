import Foundation
import LogStorage
import NIOCore
import NIOPosix
import OrderLogServer
import OrderModel
import OrderStore
@testable import OrderLogHTTP

/// A store in a temporary directory with the HTTP API on a free loopback port.
final class HTTPFixture: Sendable {
    let path: String
    let store: OrderStore
    let http: HTTPService

    init(access: AccessPolicy = AccessPolicy(), configure: (inout HTTPConfiguration) -> Void = { _ in }) async throws {
        path = FileManager.default.temporaryDirectory.path + "/orderlog-http-test-\(UUID().uuidString.prefix(8))"
        var c = StoreConfiguration()
        c.log.durability = .always
        store = try OrderStore.open(path: path, configuration: c)
        var h = HTTPConfiguration()
        h.port = 0
        configure(&h)
        http = try await HTTPService.start(store: store, configuration: h, access: access)
    }

    func stop() async {
        await http.shutdown()
        try? store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
    }

    /// One request on its own connection (`Connection: close`), its whole answer.
    func request(_ method: String, _ target: String, body: String? = nil, headers: [String: String] = [:]) async throws -> Answer {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (k, v) in headers { text += "\(k): \(v)\r\n" }
        if let body {
            if headers["Content-Type"] == nil { text += "Content-Type: application/json\r\n" }
            text += "Content-Length: \(body.utf8.count)\r\n"
        }
        text += "\r\n" + (body ?? "")
        let raw = try await exchange(Array(text.utf8))
        return Self.parse(raw)
    }

    /// Sends `bytes` and reads until the server closes, or until `until` says enough.
    func exchange(_ bytes: [UInt8], until: (([UInt8]) -> Bool)? = nil) async throws -> [UInt8] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: http.port) { ch in
                ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            var received: [UInt8] = []
            for try await buffer in inbound {
                received += Array(buffer.readableBytesView)
                if let until, until(received) { break }
            }
            return received
        }
    }

    static func parse(_ raw: [UInt8]) -> Answer {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return Answer(status: 0, headers: [:], body: text) }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = String(text[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return Answer(status: status, headers: headers, body: body)
    }

    static func dechunk(_ s: String) -> String {
        var out = ""
        var rest = Substring(s)
        while let line = rest.range(of: "\r\n"), let n = Int(rest[..<line.lowerBound], radix: 16), n > 0 {
            let start = line.upperBound
            let utf8 = rest.utf8
            let end = utf8.index(start, offsetBy: n)
            out += String(rest[start..<end])
            rest = rest[end...].dropFirst(2)
        }
        return out
    }
}

/// An OrderPlaced as a JSON object (EVENTS.md), one line of `sku` × qty at 100.
func placedJSON(_ id: String, customer: String = "C1", extra: String = "") -> String {
    #"{"order_id":"\#(id)","type":"OrderPlaced"\#(extra),"data":{"customer_id":"\#(customer)","channel":"web","currency":"EUR","lines":[{"sku":"A","qty":2,"unit_price_minor":100}]}}"#
}

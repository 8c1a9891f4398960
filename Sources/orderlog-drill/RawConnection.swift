@preconcurrency import Glibc
import Foundation
import WireProtocol

/// A blocking TCP connection for sending arbitrary bytes — frames no client library would
/// produce — and collecting what the server answers.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DrillFailure("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { close(fd); throw DrillFailure("connect to port \(port): errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the server closed: what it said is read next
            done += n
        }
    }

    /// Closes the sending side: the server sees the end of the stream.
    func hangUp() { shutdown(fd, Int32(SHUT_WR)) }

    /// Frames received until the server closes the connection or `timeout` passes quietly.
    func receive(timeout: TimeInterval = 1.5) -> (frames: [Frame], closed: Bool) {
        var decoder = FrameDecoder(maxFrameBytes: 64 << 20)
        var frames: [Frame] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return (frames, false) }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (frames, true) }
            decoder.append(buffer[0..<n])
            while let frame = try? decoder.next() { frames.append(frame) }
        }
    }

    /// HELLO with `token`, returning the answer.
    func hello(token: String) -> Message? {
        send(Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "drill-raw", token: token)).encoded())
        return receive(timeout: 0.5).frames.first?.message
    }
}

extension Message {
    /// How a user sees this answer: `ERROR code: message`, `APPEND_REJECTED …`, or the type.
    var seen: String {
        switch self {
        case .error(let code, let message): "ERROR \(code): \(message)"
        case .appendRejected(let index, let code, let message): "APPEND_REJECTED event \(index) \(code): \(message)"
        case .close(let reason): "CLOSE (\(reason))"
        default: "\(type)"
        }
    }
}

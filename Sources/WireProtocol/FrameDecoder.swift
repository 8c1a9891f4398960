/// Turns a byte stream into frames, whatever the stream's chunking: a frame may arrive a byte
/// at a time or many frames in one read. A pure state machine over bytes: the network layer
/// only feeds it (swift-nio's WebSocketFrameDecoder is the model).
///
/// Every header is checked before its payload is waited for, so a hostile length costs
/// nothing: a frame above `maxFrameBytes` is refused at once.
public struct FrameDecoder: Sendable {
    /// The largest frame (its `length` field) accepted. Raise it after the handshake.
    public var maxFrameBytes: Int

    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxFrameBytes: Int = Frame.handshakeFrameBytesMax) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes received but not yet part of a returned frame.
    public var bufferedBytes: Int { buffer.count - start }

    /// Appends received bytes in place. The one a server or client calls for every read
    /// (`buffer.withUnsafeReadableBytes { decoder.append($0) }`): not generic, so a caller in
    /// another module does not copy byte by byte through a collection's witness table.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    public mutating func append<C: Collection<UInt8>>(_ bytes: C) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, or nil until more bytes arrive. After an error the stream cannot
    /// be resynchronised: the connection must be closed.
    public mutating func next() throws(WireError) -> Frame? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        guard length >= Frame.headerBytes - 4 else {
            throw WireError(.malformedFrame, "frame length \(length) is shorter than a frame header (8)")
        }
        guard length <= maxFrameBytes else {
            throw WireError(.frameTooLarge, "frame of \(length) bytes exceeds the limit of \(maxFrameBytes)")
        }
        if available >= 8 {
            let version = buffer[start + 4]
            guard version == Frame.version else {
                throw WireError(.unsupportedVersion, "frame version \(version); this server speaks version \(Frame.version)")
            }
            let flags = UInt16(buffer[start + 6]) << 8 | UInt16(buffer[start + 7])
            guard flags == 0 else { throw WireError(.malformedFrame, "frame flags 0x\(String(flags, radix: 16)) are reserved and must be 0") }
        }
        guard available >= 4 + length else { return nil }
        let type = buffer[start + 5]
        let requestID = UInt32(buffer[start + 8]) << 24 | UInt32(buffer[start + 9]) << 16 | UInt32(buffer[start + 10]) << 8 | UInt32(buffer[start + 11])
        let payload = buffer[(start + Frame.headerBytes)..<(start + 4 + length)]
        let frame = try Frame.decode(type: type, requestID: requestID, payload: payload)
        start += 4 + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return frame
    }
}

import WireProtocol

/// What the `frame-decoder` fuzz target (Fuzz/, tools/fuzz) does with one input. It lives
/// here, and Fuzz/ links it in, so `swift test` replays every corpus and regression file
/// through exactly the code the fuzzer ran.
///
/// Errors are the decoder's answer to bad bytes and are fine. A trap is a finding: the
/// decoder's own (overflow, out-of-bounds) or one of the preconditions below, which state
/// what must hold whatever the bytes.
enum FrameDecoderFuzzHarness {
    struct Outcome: Equatable {
        var frames: [Frame] = []
        var error: WireError?
        /// Bytes appended but not part of a returned frame, when no error stopped the stream.
        var buffered = 0
    }

    /// Runs every check on `bytes` and returns the frames of the stream read whole.
    @discardableResult
    static func run(_ bytes: [UInt8]) -> Outcome {
        // The bytes as a connection's stream, as the server reads it before the handshake.
        let whole = decode(bytes, chunkSizes: [bytes.count])
        // The same stream in uneven pieces (1, 2, … 13 bytes): a network may cut it anywhere.
        let pieces = decode(bytes, chunkSizes: Array(1...13))
        precondition(whole == pieces, "chunking changed the outcome: \(whole) vs \(pieces)")
        if whole.error == nil {
            let consumed = whole.frames.reduce(0) { $0 + $1.encoded().count }
            precondition(consumed + whole.buffered == bytes.count, "frames and buffered bytes do not add up to the stream")
        }
        whole.frames.forEach(checkRoundTrip)

        // The bytes as the payload of every message type, behind a valid header, so each
        // payload decoder sees them even when the fuzzer's header is wrong.
        for type in MessageType.allCases {
            var frame = header(type: type, payloadBytes: bytes.count)
            frame.append(contentsOf: bytes)
            decode(frame, chunkSizes: [frame.count], maxFrameBytes: frame.count).frames.forEach(checkRoundTrip)
        }
        return whole
    }

    /// Feeds `bytes` to a decoder in pieces of `chunkSizes` (cycled), taking every frame as
    /// soon as it is whole, until the stream ends or the decoder throws.
    static func decode(_ bytes: [UInt8], chunkSizes: [Int], maxFrameBytes: Int = Frame.handshakeFrameBytesMax) -> Outcome {
        var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        var outcome = Outcome()
        var start = 0, k = 0
        repeat {
            let end = min(bytes.count, start + max(1, chunkSizes[k % chunkSizes.count]))
            decoder.append(bytes[start..<end])
            start = end
            k += 1
            do {
                while let frame = try decoder.next() { outcome.frames.append(frame) }
            } catch {
                outcome.error = error
                return outcome
            }
        } while start < bytes.count
        outcome.buffered = decoder.bufferedBytes
        return outcome
    }

    /// A decoded frame encodes to bytes that decode to the same frame (values a field's kind
    /// ignores, such as the u64 after `expected version` "any", come back as 0).
    static func checkRoundTrip(_ frame: Frame) {
        let bytes = frame.encoded()
        let again = decode(bytes, chunkSizes: [bytes.count], maxFrameBytes: bytes.count)
        precondition(again.error == nil && again.frames == [frame] && again.buffered == 0,
                     "\(frame) does not survive encode and decode: \(again)")
    }

    /// A version 1 frame header for a payload of `payloadBytes` (docs/PROTOCOL.md §2).
    static func header(type: MessageType, payloadBytes: Int) -> [UInt8] {
        let length = UInt32(Frame.headerBytes - 4 + payloadBytes)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF),
                Frame.version, type.rawValue, 0, 0, 0x01, 0x02, 0x03, 0x04]
    }
}

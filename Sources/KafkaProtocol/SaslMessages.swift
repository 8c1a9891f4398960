/// SASL authentication (docs/KAFKA.md §7): SaslHandshake and SaslAuthenticate, and the PLAIN
/// mechanism's token (RFC 4616: authzid NUL authcid NUL passwd).
public enum SaslPlain {
    /// The identity and password of a PLAIN token, or nil when it is not one (two NULs, each
    /// part at most 255 bytes of UTF-8, a non-empty password).
    public static func parse(_ token: some Collection<UInt8>) -> (authorizationID: String, username: String, password: String)? {
        let bytes = Array(token)
        guard bytes.count <= 3 * 255 + 2 else { return nil }
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ $0.count <= 255 }), !parts[2].isEmpty,
              let z = String(validating: parts[0], as: UTF8.self), let u = String(validating: parts[1], as: UTF8.self),
              let p = String(validating: parts[2], as: UTF8.self) else { return nil }
        return (z, u, p)
    }
}

extension KafkaResponse {
    public static func saslHandshake(correlationID: Int32, error: KafkaErrorCode, mechanisms: [String]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        w.int16(error.rawValue)
        w.arrayCount(mechanisms.count)
        for m in mechanisms { w.string(m) }
        return w.bytes
    }

    public static func saslAuthenticate(correlationID: Int32, version v: Int16, error: KafkaErrorCode, message: String?) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        w.int16(error.rawValue)
        w.nullableString(message)
        w.nullableBytes([UInt8]())
        if v >= 1 { w.int64(0) }  // session lifetime: no re-authentication asked
        return w.bytes
    }
}

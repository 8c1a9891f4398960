/// Which partition of the orders topic a record key belongs to: Kafka's default partitioner
/// for keyed records (the Java client's `Utils.murmur2`, then `toPositive`, modulo the
/// partition count; librdkafka's `murmur2_random`). Every event of an order has the order id
/// as its key, so all of an order's events are in one partition, in log order.
public enum KafkaPartitioner {
    /// murmur2 as Kafka's Java client computes it (seed 0x9747b28c), over the key's bytes.
    public static func murmur2(_ data: some Collection<UInt8>) -> Int32 {
        if let h = data.withContiguousStorageIfAvailable({ murmur2(UnsafeRawBufferPointer($0)) }) { return h }
        return Array(data).withUnsafeBytes { murmur2($0) }
    }

    /// murmur2 over bytes in place (a stored record's key: what every fetch hashes a record).
    public static func murmur2(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let length = bytes.count
        let m: UInt32 = 0x5bd1_e995
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let length4 = length / 4
        for i in 0..<length4 {
            let i4 = i * 4
            var k = UInt32(bytes[i4]) | UInt32(bytes[i4 + 1]) << 8 | UInt32(bytes[i4 + 2]) << 16 | UInt32(bytes[i4 + 3]) << 24
            k &*= m
            k ^= k >> 24
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = length & ~3
        switch length % 4 {
        case 3:
            h ^= UInt32(bytes[tail + 2]) << 16
            h ^= UInt32(bytes[tail + 1]) << 8
            h ^= UInt32(bytes[tail])
            h &*= m
        case 2:
            h ^= UInt32(bytes[tail + 1]) << 8
            h ^= UInt32(bytes[tail])
            h &*= m
        case 1:
            h ^= UInt32(bytes[tail])
            h &*= m
        default:
            break
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// The partition of `key` among `partitions` (≥ 1).
    public static func partition(of key: some Collection<UInt8>, partitions: Int) -> Int {
        Int(UInt32(bitPattern: murmur2(key)) & 0x7FFF_FFFF) % partitions
    }

    /// The partition of `key`'s bytes among `partitions` (≥ 1).
    public static func partition(of key: UnsafeRawBufferPointer, partitions: Int) -> Int {
        Int(UInt32(bitPattern: murmur2(key)) & 0x7FFF_FFFF) % partitions
    }
}

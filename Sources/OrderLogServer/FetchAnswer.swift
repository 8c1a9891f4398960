import KafkaProtocol

/// A fetch's answer as the broker builds it: the response's topics, and the record bytes in
/// them (what `min_bytes` is held to).
struct FetchAnswer: Sendable {
    var topics: [(name: String, partitions: [KafkaResponse.FetchPartition])]
    var bytes: Int
}

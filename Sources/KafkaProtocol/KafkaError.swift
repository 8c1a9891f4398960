/// Why a Kafka request could not be read or served: a code (the module's own, each named
/// after what failed) and context saying where. A request that does not parse is answered
/// with a close (Kafka clients have no error frame for "your bytes are wrong"); one that
/// parses but asks for something not served is answered with Kafka's own error code
/// (`KafkaErrorCode`).
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The bytes end before a field does, or a length or count is out of range.
        case truncated
        case invalidLength
        /// A varint longer than its type, or a string that is not UTF-8.
        case malformed
        /// A record batch's CRC32C does not match its bytes.
        case corruptBatch
        /// A record batch in a format this broker does not read (magic 0/1, a codec it lacks).
        case unsupportedFormat
        /// More than a limit allows (records in a batch, bytes after decompression, …).
        case limitExceeded
    }

    public var code: Code
    public var message: String
    /// The byte offset in the request (or batch) where it was found, when known.
    public var offset: Int?

    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(code.rawValue): \(message)" + (offset.map { " (at byte \($0))" } ?? "") }
}

/// Kafka's error codes (the protocol's, sent in responses), as many as this broker answers.
public enum KafkaErrorCode: Int16, Sendable {
    case unknownServerError = -1
    case none = 0
    case offsetOutOfRange = 1
    case corruptMessage = 2
    case unknownTopicOrPartition = 3
    case invalidFetchSize = 4
    case leaderNotAvailable = 5
    case notLeaderOrFollower = 6
    case requestTimedOut = 7
    case messageTooLarge = 10
    case coordinatorNotAvailable = 15
    case notCoordinator = 16
    case illegalGeneration = 22
    case inconsistentGroupProtocol = 23
    case unknownMemberID = 25
    case invalidSessionTimeout = 26
    case rebalanceInProgress = 27
    case topicAuthorizationFailed = 29
    case groupAuthorizationFailed = 30
    case clusterAuthorizationFailed = 31
    case unsupportedSaslMechanism = 33
    case illegalSaslState = 34
    case unsupportedVersion = 35
    case invalidRequest = 42
    case outOfOrderSequenceNumber = 45
    case duplicateSequenceNumber = 46
    case invalidProducerEpoch = 47
    case unknownProducerID = 59
    case saslAuthenticationFailed = 58
    case memberIDRequired = 79
    case invalidRecord = 87
    case unsupportedCompressionType = 76
}

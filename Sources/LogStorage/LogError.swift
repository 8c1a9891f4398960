/// The one error type of `LogStorage`: a stable code to match on, and the context a person
/// needs to find the problem (file, byte offset, position, key, the numbers involved).
public struct LogError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A record or batch the caller gave us breaks a limit or a rule (key, payload size, batch size).
        case invalidArgument = "invalid_argument"
        /// Stored bytes fail a checksum or a structural check at a place recovery must not skip.
        case corruption
        /// The directory is already opened for writing by another process (or handle).
        case locked
        /// A system call failed (the errno is in the message).
        case io
        /// The file system has no room left; nothing partial was kept.
        case diskFull = "disk_full"
        /// A position that does not exist (yet) or was asked past the end.
        case notFound = "not_found"
        /// A file written by a newer format version than this reader knows.
        case unsupportedVersion = "unsupported_version"
        /// The log hit an unrecoverable write or fsync failure earlier; it refuses appends until
        /// reopened, because the page cache can no longer be trusted (see docs/FORMAT.md).
        case failed
        /// The log was closed.
        case closed
    }

    public var code: Code
    public var message: String
    public var file: String?
    public var offset: UInt64?

    public init(_ code: Code, _ message: String, file: String? = nil, offset: UInt64? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.offset = offset
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let file {
            text += " [file \(file)"
            if let offset { text += " at byte offset \(offset)" }
            text += "]"
        }
        return text
    }
}

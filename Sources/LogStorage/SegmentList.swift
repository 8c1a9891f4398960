/// One segment as readers see it.
enum SegmentHandle: Sendable {
    case active(ActiveSegment)
    case sealed(SealedSegment)

    var base: UInt64 {
        switch self {
        case .active(let s): s.base
        case .sealed(let s): s.base
        }
    }

    var path: String {
        switch self {
        case .active(let s): s.path
        case .sealed(let s): s.path
        }
    }
}

/// The segments in position order. An immutable value: readers take a copy and work on it
/// while the writer and the sealer install new lists.
struct SegmentList: Sendable {
    var segments: [SegmentHandle] = []

    /// The segment holding `position` (binary search by base position). Positions below the
    /// log's end are always inside some segment.
    func index(containing position: UInt64) -> Int? {
        guard let first = segments.first, position >= first.base else { return nil }
        var low = 0, high = segments.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if segments[mid].base <= position { low = mid } else { high = mid - 1 }
        }
        return low
    }

    mutating func replace(base: UInt64, with handle: SegmentHandle) {
        guard let i = segments.firstIndex(where: { $0.base == base }) else { preconditionFailure("no segment \(base)") }
        segments[i] = handle
    }
}

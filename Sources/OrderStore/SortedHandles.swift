/// Order handles kept sorted by a caller's order (the orders' ids), in chunks of at most
/// `chunkMax`: an insertion or a removal is two binary searches — over the chunks' last
/// elements, then within one chunk — and a move of at most a chunk; a page after a cursor is
/// a binary search and a walk. What a status list needs when it holds a million orders: a
/// status change on the write path costs about 40 comparisons, not a sort, and a page sorts
/// nothing (issue 12: the first page of a status list within 5 ms).
struct SortedHandles: Sendable {
    static let chunkMax = 1024
    /// Each chunk sorted and non-empty; every element of a chunk sorts before every element
    /// of the next.
    private var chunks: [[UInt32]] = []
    private(set) var count = 0

    /// The first chunk whose last element is not before `h` (where `h` goes), or the last.
    @inline(__always)
    private func chunk(for h: UInt32, _ less: (UInt32, UInt32) -> Bool) -> Int {
        var lo = 0, hi = chunks.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if less(chunks[mid][chunks[mid].count - 1], h) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The first index in chunk `c` whose element is not before `h`.
    @inline(__always)
    private func place(of h: UInt32, in c: Int, _ less: (UInt32, UInt32) -> Bool) -> Int {
        var lo = 0, hi = chunks[c].count
        while lo < hi {
            let mid = (lo + hi) / 2
            if less(chunks[c][mid], h) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Adds `h` (not already in) in its place.
    mutating func insert(_ h: UInt32, _ less: (UInt32, UInt32) -> Bool) {
        count += 1
        guard !chunks.isEmpty else { chunks = [[h]]; return }
        let c = chunk(for: h, less)
        let i = place(of: h, in: c, less)
        chunks[c].insert(h, at: i)
        if chunks[c].count > Self.chunkMax {
            let upper = Array(chunks[c][(Self.chunkMax / 2)...])
            chunks[c].removeSubrange((Self.chunkMax / 2)...)
            chunks.insert(upper, at: c + 1)
        }
    }

    /// Takes `h` out; false if it was not in. Elements that sort equal to `h` are told apart by
    /// value (two orders never share an id, so there are none).
    @discardableResult
    mutating func remove(_ h: UInt32, _ less: (UInt32, UInt32) -> Bool) -> Bool {
        guard !chunks.isEmpty else { return false }
        let c = chunk(for: h, less)
        let i = place(of: h, in: c, less)
        guard i < chunks[c].count, chunks[c][i] == h else { return false }
        chunks[c].remove(at: i)
        count -= 1
        if chunks[c].isEmpty { chunks.remove(at: c) }
        return true
    }

    /// Up to `limit` elements after those `notAfter` says are at or before the cursor, in
    /// order, and whether more follow.
    func page(from notAfter: (UInt32) -> Bool, limit: Int) -> (elements: [UInt32], more: Bool) {
        // The first chunk with an element after the cursor, then the first such element.
        var lo = 0, hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if notAfter(chunks[mid][chunks[mid].count - 1]) { lo = mid + 1 } else { hi = mid }
        }
        var out: [UInt32] = []
        out.reserveCapacity(min(limit, count))
        var c = lo
        guard c < chunks.count else { return ([], false) }
        var i = 0, j = chunks[c].count
        while i < j {
            let mid = (i + j) / 2
            if notAfter(chunks[c][mid]) { i = mid + 1 } else { j = mid }
        }
        while c < chunks.count {
            while i < chunks[c].count {
                if out.count == limit { return (out, true) }
                out.append(chunks[c][i])
                i += 1
            }
            c += 1
            i = 0
        }
        return (out, false)
    }

    /// The list of `sorted` (already in order), in chunks of half the maximum: built in one
    /// pass, as an open builds a status list from a checkpoint.
    init(sorted: [UInt32]) {
        count = sorted.count
        let half = Self.chunkMax / 2
        chunks = stride(from: 0, to: sorted.count, by: half).map { Array(sorted[$0..<min($0 + half, sorted.count)]) }
    }

    init() {}

    /// Every element, in order.
    var all: [UInt32] { chunks.flatMap { $0 } }
}

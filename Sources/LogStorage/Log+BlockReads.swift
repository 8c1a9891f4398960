extension Log {
    /// Block `b` of `segment`, from the block cache or read and decompressed on a miss
    /// (with pread: see `SealedSegment.readBlock` for why point reads avoid the mapping).
    func cachedBlock(_ segment: SealedSegment, _ b: Int) throws(LogError) -> DecodedBlock {
        try blockCache.block(BlockCache.Key(segmentBase: segment.base, block: b)) { () throws(LogError) in
            try segment.readBlock(b)
        }
    }
}

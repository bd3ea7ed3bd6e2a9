import OTLPSync

/// Tables of nested lengths kept between one-shot encodes (``ProtoEncodable/encodedBytes(expectedLengths:headroom:)``).
///
/// An exporter encoding a 4096-span request needs a table of about 65 k lengths (half a
/// megabyte). Allocated fresh for every batch, such a table comes from `mmap` and is faulted in
/// page by page each time; kept here, the next encode of a similar size reuses it. A few tables
/// are kept (one per export in flight), each at most ``maximumCachedCapacity`` entries, so a
/// single huge request does not pin its table for good. Taking and giving back is a short lock
/// (a pthread mutex, `LockedValue`, which ThreadSanitizer sees; `Synchronization.Mutex` locks
/// through futex calls it does not): encoding runs on the export path, never on a producer's.
@usableFromInline
final class SizerTableCache: Sendable {
    @usableFromInline static let shared = SizerTableCache()

    /// Tables kept at most.
    static let maximumCachedTables = 8
    /// Largest table kept, in entries (8 MiB).
    static let maximumCachedCapacity = 1 << 20

    private struct Table: @unchecked Sendable {
        let base: UnsafeMutablePointer<Int>
        let capacity: Int
    }

    private let tables = LockedValue<[Table]>([])

    /// A sizer over a kept table of at least `minimumCapacity` entries, or a new one.
    @usableFromInline
    func takeSizer(minimumCapacity: Int) -> ProtoSizer {
        let table = tables.withLock { tables -> Table? in
            guard let index = tables.lastIndex(where: { $0.capacity >= minimumCapacity }) ?? tables.indices.last else {
                return nil
            }
            return tables.remove(at: index)
        }
        guard let table else { return ProtoSizer(initialCapacity: minimumCapacity) }
        return ProtoSizer(base: table.base, capacity: table.capacity)
    }

    /// Keeps the sizer's table for a later encode, or frees it.
    @usableFromInline
    func giveBack(_ sizer: ProtoSizer) {
        let table = Table(base: sizer.base, capacity: sizer.capacity)
        let kept = table.capacity <= Self.maximumCachedCapacity && tables.withLock { tables -> Bool in
            guard tables.count < Self.maximumCachedTables else { return false }
            tables.append(table)
            return true
        }
        if !kept { sizer.deallocate() }
    }

    /// How many tables are kept (for tests).
    var cachedTableCount: Int { tables.withLock { $0.count } }
}

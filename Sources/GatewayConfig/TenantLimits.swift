/// A token bucket: `rate` requests per second on average, up to `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var rate: Double
    public var burst: Int

    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = burst
    }
}

/// What one tenant may use. Tier defaults fill every field; a tenant's own record overrides any
/// of them (nil there means "the tier's value").
public struct TenantLimits: Sendable, Equatable {
    public enum RateClass: String, Sendable, CaseIterable {
        case read, search, write, export
    }

    public var read: RateLimit?
    public var search: RateLimit?
    public var write: RateLimit?
    public var export: RateLimit?
    /// Requests of the tenant in progress at once on one replica; more are refused with 429.
    public var concurrentRequests: Int?
    /// Database calls of the tenant at once on one replica; more wait for a free one.
    public var databaseConnections: Int?
    /// Stored lab resources (Observation, DiagnosticReport) above which writes are logged and counted as over quota.
    public var storedResourcesSoft: Int?
    /// Stored lab resources at which writes are refused (reads go on).
    public var storedResourcesHard: Int?
    /// Bulk exports of the tenant queued or running at once; a kick-off past it is refused with 429.
    public var exportJobs: Int?
    /// Bulk exports of one client of the tenant queued or running at once.
    public var exportJobsPerClient: Int?

    public init(read: RateLimit? = nil, search: RateLimit? = nil, write: RateLimit? = nil, export: RateLimit? = nil,
                concurrentRequests: Int? = nil, databaseConnections: Int? = nil,
                storedResourcesSoft: Int? = nil, storedResourcesHard: Int? = nil, exportJobs: Int? = nil, exportJobsPerClient: Int? = nil) {
        self.exportJobs = exportJobs
        self.exportJobsPerClient = exportJobsPerClient
        self.read = read
        self.search = search
        self.write = write
        self.export = export
        self.concurrentRequests = concurrentRequests
        self.databaseConnections = databaseConnections
        self.storedResourcesSoft = storedResourcesSoft
        self.storedResourcesHard = storedResourcesHard
    }

    public func rate(_ rateClass: RateClass) -> RateLimit? {
        switch rateClass {
        case .read: read
        case .search: search
        case .write: write
        case .export: export
        }
    }

    /// These limits where set, `defaults` elsewhere.
    public func over(_ defaults: TenantLimits) -> TenantLimits {
        TenantLimits(read: read ?? defaults.read, search: search ?? defaults.search, write: write ?? defaults.write,
                     export: export ?? defaults.export, concurrentRequests: concurrentRequests ?? defaults.concurrentRequests,
                     databaseConnections: databaseConnections ?? defaults.databaseConnections,
                     storedResourcesSoft: storedResourcesSoft ?? defaults.storedResourcesSoft,
                     storedResourcesHard: storedResourcesHard ?? defaults.storedResourcesHard,
                     exportJobs: exportJobs ?? defaults.exportJobs, exportJobsPerClient: exportJobsPerClient ?? defaults.exportJobsPerClient)
    }

    public var isEmpty: Bool { self == TenantLimits() }

    /// Built-in tier defaults, used where the configuration's `tiers` section says nothing.
    public static func builtIn(_ tier: TenantConfiguration.Tier) -> TenantLimits {
        switch tier {
        case .enterprise:
            TenantLimits(read: RateLimit(rate: 1000, burst: 2000), search: RateLimit(rate: 400, burst: 800),
                         write: RateLimit(rate: 400, burst: 800), export: RateLimit(rate: 2, burst: 4),
                         concurrentRequests: 256, databaseConnections: 16,
                         storedResourcesSoft: 50_000_000, storedResourcesHard: 60_000_000, exportJobs: 4, exportJobsPerClient: 2)
        case .professional:
            TenantLimits(read: RateLimit(rate: 300, burst: 600), search: RateLimit(rate: 120, burst: 240),
                         write: RateLimit(rate: 120, burst: 240), export: RateLimit(rate: 1, burst: 2),
                         concurrentRequests: 96, databaseConnections: 8,
                         storedResourcesSoft: 5_000_000, storedResourcesHard: 6_000_000, exportJobs: 2, exportJobsPerClient: 1)
        case .starter:
            TenantLimits(read: RateLimit(rate: 60, burst: 120), search: RateLimit(rate: 25, burst: 50),
                         write: RateLimit(rate: 25, burst: 50), export: RateLimit(rate: 0.2, burst: 1),
                         concurrentRequests: 24, databaseConnections: 4,
                         storedResourcesSoft: 500_000, storedResourcesHard: 600_000, exportJobs: 1, exportJobsPerClient: 1)
        }
    }
}

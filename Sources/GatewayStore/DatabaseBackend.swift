import HMSMapping

/// What the repository needs from a database driver. Only `HMSRepository` calls it, always
/// with statements from ``HMSQueryBuilder`` and the tenant id from a `TenantScope`.
protocol DatabaseBackend: Sendable {
    /// Runs a read inside the tenant's scope (PostgreSQL: a transaction with `app.tenant_id` set locally).
    func query(_ statement: SQLStatement, columns: [HMSColumn], tenantID: String?) async throws -> [HMSRow]
    /// Stores audit records of any number of tenants as waiting to be chained, in one statement
    /// (PostgreSQL: autocommit, each tenant's rows inserted under that tenant's setting).
    func enqueueAudit(_ records: [HMSRepository.AuditRecord]) async throws
    /// Applies the schema; `gatewayRole` receives read grants in PostgreSQL.
    func migrate() async throws
    /// Inserts rows for one tenant in one transaction.
    func insert(table: String, columns: [HMSSchema.Column], rows: [[SQLBind]], tenantID: String) async throws
    /// Inserts or updates tenant registry rows (no tenant scope: the registry holds no PHI).
    func upsertTenant(id: String, slug: String, name: String, updatedAt: String) async throws
    /// Runs `body` in one transaction scoped to `tenantID`. `lockKey` serialises writers that
    /// must not race (conditional creates with the same criteria); the locks end with the transaction.
    func withWriteTransaction<T: Sendable>(tenantID: String, lockKeys: [String],
                                           _ body: @Sendable (any DatabaseTransaction) async throws -> T) async throws -> T
    /// Runs `body` in one read-only repeatable-read transaction scoped to `tenantID`, whose
    /// session streams statements through server-side cursors: every statement of it reads the
    /// same snapshot, and memory stays flat. The session is nil when the store has no cursors
    /// (SQLite): the caller pages with keyset queries instead.
    func withReadSnapshot<T: Sendable>(tenantID: String, _ body: @Sendable ((any CursorSession)?) async throws -> T) async throws -> T
    /// Refreshes planner statistics after bulk loads (seeding), so searches get index plans at once.
    func analyze() async throws
    func isReachable() async -> Bool
    /// Runs until cancelled (connection pools that need a run loop), then closes.
    func run() async
    func close() async
}

/// Statements read through server-side cursors inside one snapshot (``DatabaseBackend/withReadSnapshot``).
protocol CursorSession: Sendable {
    /// Streams the rows of `statement` in batches to `body`, which returns false to stop.
    func stream(_ statement: SQLStatement, columns: [HMSColumn], batch: Int, _ body: @Sendable ([HMSRow]) async throws -> Bool) async throws
}

/// A database failure; its message is for operators' logs only, never for responses.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

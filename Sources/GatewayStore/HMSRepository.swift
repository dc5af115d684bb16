import FHIRModels
import FHIRSearch
import GatewayAuth
import GatewayConfig
import HMSMapping
import Logging
import Synchronization

/// The only way to HMS data. Every method that returns rows takes a ``TenantScope`` and
/// the SQL it runs starts with that tenant's predicate.
public final class HMSRepository: Sendable {
    let backend: any DatabaseBackend
    public let kind: String
    private let inFlight = Atomic<Int>(0)
    public let maximumConnections: Int
    let sealer: AuditSealer

    init(backend: any DatabaseBackend, kind: String, logger: Logger, connections: Int = PostgresBackend.maximumConnections) {
        let traced = TracedBackend(base: backend, system: kind == "postgres" ? "postgresql" : "sqlite")
        self.backend = traced
        self.kind = kind
        self.sealer = AuditSealer(backend: traced, logger: logger)
        self.maximumConnections = kind == "postgres" ? connections : 1
    }

    /// Database calls running now (pool usage, for metrics).
    public var activeCalls: Int { inFlight.load(ordering: .relaxed) }

    /// Counts a call as in flight while it runs.
    func tracked<T>(_ body: () async throws -> T) async throws -> T {
        beginCall()
        defer { endCall() }
        return try await body()
    }

    func beginCall() { inFlight.wrappingAdd(1, ordering: .relaxed) }
    func endCall() { inFlight.wrappingSubtract(1, ordering: .relaxed) }

    /// PostgreSQL connections of the serving pool, and of a command-line run (a few).
    public static let servingConnections = PostgresBackend.maximumConnections
    public static let commandConnections = 2

    /// Opens the configured store (SQLite file or PostgreSQL, with a pool of `connections`).
    public static func open(_ database: GatewayConfiguration.Database, logger: Logger,
                            connections: Int = servingConnections) async throws -> HMSRepository {
        switch database {
        case .sqlite(let path):
            return HMSRepository(backend: try await SQLiteBackend.open(path: path, logger: logger), kind: "sqlite", logger: logger)
        case .postgres(let url, let migrationURL):
            return HMSRepository(backend: try PostgresBackend(url: url, migrationURL: migrationURL, logger: logger, connections: connections),
                                 kind: "postgres", logger: logger, connections: connections)
        }
    }

    /// Keeps connection pools running; run it for as long as the repository is used.
    public func run() async { await backend.run() }

    /// Opens the store, runs `body` while its pools run, then shuts it down (CLI commands, tests).
    public static func withOpen<T: Sendable>(_ database: GatewayConfiguration.Database, logger: Logger,
                                             connections: Int = commandConnections,
                                             _ body: @Sendable (HMSRepository) async throws -> T) async throws -> T {
        let repository = try await open(database, logger: logger, connections: connections)
        let runner = Task { await repository.run() }
        do {
            let result = try await body(repository)
            runner.cancel()
            await runner.value
            return result
        } catch {
            runner.cancel()
            await runner.value
            throw error
        }
    }

    /// Closes connections that are not owned by ``run()`` (SQLite); call before dropping the repository.
    public func close() async { await backend.close() }

    public func migrate() async throws { try await backend.migrate() }

    public func isReachable() async -> Bool { await backend.isReachable() }

    /// The tenant registry: slug to HMS tenant id. Holds no PHI, so it is read without a tenant scope.
    public func tenantIDs() async throws -> [String: String] {
        let columns = [HMSColumn("id", .uuid), HMSColumn("slug", .text)]
        let rows = try await tracked { try await backend.query(SQLStatement("SELECT id, slug FROM tenants"), columns: columns, tenantID: nil) }
        var registry: [String: String] = [:]
        for row in rows {
            if let slug = row.string("slug"), let id = row.string("id") { registry[slug] = id }
        }
        return registry
    }

    public func read(_ resourceType: String, id: String, scope: TenantScope) async throws -> HMSRow? {
        guard let table = HMSResourceTable.for(resourceType) else { return nil }
        guard let statement = HMSQueryBuilder(table: table, scope: scope).read(id: id) else { return nil }
        try await sealIfAudit(table, scope: scope)
        return try await tracked { try await backend.query(statement, columns: table.columns, tenantID: scope.tenantID) }.first
    }

    /// Rows of `resourceType` whose search column for `parameter` is one of `ids` (includes).
    public func rows(_ resourceType: String, referencing parameter: String, ids: [String], limit: Int, scope: TenantScope) async throws -> [HMSRow] {
        guard let table = HMSResourceTable.for(resourceType), !ids.isEmpty,
              case .reference(_, let column)? = table.searchColumns[parameter] else { return [] }
        let uuids = ids.compactMap(HMSIdentifier.normalizedUUID)
        guard !uuids.isEmpty else { return [] }
        let statement = HMSQueryBuilder(table: table, scope: scope).rows(where: column, in: uuids, limit: limit)
        return try await tracked { try await backend.query(statement, columns: table.columns, tenantID: scope.tenantID) }
    }

    /// Resources by FHIR id (includes); ids that cannot exist are dropped.
    public func rows(_ resourceType: String, ids: [String], scope: TenantScope) async throws -> [HMSRow] {
        guard let table = HMSResourceTable.for(resourceType) else { return [] }
        if resourceType == "Encounter" {
            var rows: [HMSRow] = []
            for kind in ["apt", "adm"] {
                let uuids = ids.compactMap(EncounterID.parse).filter { $0.kind == kind }.map(\.uuid)
                guard !uuids.isEmpty else { continue }
                let statement = HMSQueryBuilder(table: table, scope: scope)
                    .rows(where: HMSColumn("source_id", .uuid), in: uuids, fixed: [(HMSColumn("kind", .text), kind)], limit: uuids.count)
                rows += try await tracked { try await backend.query(statement, columns: table.columns, tenantID: scope.tenantID) }
            }
            return rows
        }
        let uuids = Array(Set(ids.compactMap(HMSIdentifier.normalizedUUID))).sorted()
        var rows: [HMSRow] = []
        // Bounded IN lists: an include of many references never exceeds a store's bind-parameter limit.
        for start in stride(from: 0, to: uuids.count, by: Self.idsPerStatement) {
            let chunk = Array(uuids[start..<min(start + Self.idsPerStatement, uuids.count)])
            let statement = HMSQueryBuilder(table: table, scope: scope).rows(where: table.idColumn, in: chunk, limit: chunk.count)
            rows += try await tracked { try await backend.query(statement, columns: table.columns, tenantID: scope.tenantID) }
        }
        return rows
    }

    /// Ids bound in one `IN (...)` list.
    static let idsPerStatement = 500

    /// One page of a search: up to `request.count` rows after `position`, and where the next page starts.
    public func search(_ request: SearchRequest, after position: PagePosition?, scope: TenantScope) async throws -> (rows: [HMSRow], next: PagePosition?) {
        guard let table = HMSResourceTable.for(request.resourceType) else { return ([], nil) }
        try await sealIfAudit(table, scope: scope)
        let builder = HMSQueryBuilder(table: table, scope: scope)
        let statement = builder.search(request, after: position, limit: request.count + 1)
        var rows = try await tracked { try await backend.query(statement, columns: table.columns, tenantID: scope.tenantID) }
        guard rows.count > request.count else { return (rows, nil) }
        rows.removeLast(rows.count - request.count)
        guard let last = rows.last, let id = HMSResourceMapper.fhirID(request.resourceType, row: last) else { return (rows, nil) }
        let sortValues = builder.sortExpressions(request).dropLast(table.keyColumns.count).map { expression in
            Self.cursorValue(last, expression.column) ?? HMSQueryBuilder.sentinel(expression.kind)
        }
        return (rows, PagePosition(sortValues: Array(sortValues), id: id))
    }

    static func cursorValue(_ row: HMSRow, _ column: HMSColumn) -> String? {
        switch column.kind {
        case .timestamp: row.integer(column.name).map { CivilTime.isoInstant(epochSeconds: $0) }
        case .bool: row.bool(column.name).map { $0 ? "true" : "false" }
        default: row.string(column.name)
        }
    }

    public func count(_ request: SearchRequest, scope: TenantScope) async throws -> Int {
        guard let table = HMSResourceTable.for(request.resourceType) else { return 0 }
        try await sealIfAudit(table, scope: scope)
        let statement = HMSQueryBuilder(table: table, scope: scope).count(request)
        let rows = try await tracked { try await backend.query(statement, columns: [HMSColumn("total", .integer)], tenantID: scope.tenantID) }
        return Int(rows.first?.integer("total") ?? 0)
    }

    /// A read of the audit trail sees every record written before it: waiting ones are chained first.
    private func sealIfAudit(_ table: HMSResourceTable, scope: TenantScope) async throws {
        if table.resourceType == "AuditEvent" { try await sealAudit(tenantID: scope.tenantID) }
    }
}

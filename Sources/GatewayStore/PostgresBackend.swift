import FHIRModels
import Foundation
import HMSMapping
import Logging
import NIOSSL
import PostgresNIO

/// PostgreSQL: the gateway's role reads under row-level security, with the tenant set per
/// transaction (`set_config(..., true)`) so a pooled connection never carries it further.
final class PostgresBackend: DatabaseBackend {
    /// Pool size of the gateway role's connections.
    static let maximumConnections = 24

    let pool: PostgresGatewayPool
    /// The schema owner, for migrations and seeding; the gateway role when none is configured.
    let ownerClient: PostgresClient?
    let gatewayRole: String
    let logger: Logger

    struct Endpoint {
        var configuration: PostgresClient.Configuration
        /// The same server for one direct connection (the availability probe).
        var probe: PostgresConnection.Configuration
        var user: String
    }

    static func endpoint(_ url: String, connections: Int = maximumConnections) throws -> Endpoint {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
              let user = components.user, !user.isEmpty else {
            throw StoreError("database URL must look like postgres://user:password@host:port/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        let probeTLS: PostgresConnection.Configuration.TLS
        switch mode {
        case "disable":
            tls = .disable
            probeTLS = .disable
        case "prefer", "allow":
            tls = .prefer(.makeClientConfiguration())
            probeTLS = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case "require", "verify-ca", "verify-full":
            tls = .require(.makeClientConfiguration())
            probeTLS = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: throw StoreError("database URL has an unknown sslmode")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = connections
        // Every connection the pool parks gets an idle-timeout timer (unless it is one of the minimum
        // connections) and a keep-alive timer; a lease cancels them, but on Linux a cancelled sleep
        // holds its memory until its deadline (60 s and 30 s), so under load RSS grew by about 1.7 KB
        // per query (PoolMemoryTests). A fixed pool schedules neither: connections
        // never idle out, and the availability probe, not keep-alives, notices a dead server.
        configuration.options.minimumConnections = connections
        configuration.options.keepAliveBehavior = nil
        var probe = PostgresConnection.Configuration(host: host, port: components.port ?? 5432, username: user,
                                                     password: components.password?.removingPercentEncoding,
                                                     database: database.isEmpty ? nil : database, tls: probeTLS)
        probe.options.connectTimeout = .milliseconds(Int64(PostgresGatewayPool.probeTimeout.components.seconds * 1000
                                                            + PostgresGatewayPool.probeTimeout.components.attoseconds / 1_000_000_000_000_000))
        return Endpoint(configuration: configuration, probe: probe, user: user)
    }

    let connections: Int

    init(url: String, migrationURL: String?, logger: Logger, connections: Int = maximumConnections) throws {
        let gateway = try Self.endpoint(url, connections: connections)
        self.connections = connections
        guard gateway.user.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw StoreError("the database user must be a plain lowercase role name")
        }
        var quietLogger = logger
        if quietLogger.logLevel < .info { quietLogger.logLevel = .info }
        self.pool = PostgresGatewayPool(configuration: gateway.configuration, probe: gateway.probe, logger: quietLogger)
        self.ownerClient = try migrationURL.map { url in
            // Migrations and seeding only: a few connections, opened when needed.
            var owner = try Self.endpoint(url).configuration
            owner.options.minimumConnections = 0
            owner.options.maximumConnections = 4
            return PostgresClient(configuration: owner, backgroundLogger: quietLogger)
        }
        self.gatewayRole = gateway.user
        // The driver logs statements and bound values (PHI) at debug and trace: whatever the gateway's
        // level, its logger never goes below info.
        var driverLogger = logger
        if driverLogger.logLevel < .info { driverLogger.logLevel = .info }
        self.logger = driverLogger
    }

    /// The schema owner. Migrating or seeding as the gateway role would make it own the tables.
    private func owner() throws -> PostgresClient {
        guard let ownerClient else {
            throw StoreError("set database.migration_url (or DATABASE_MIGRATION_URL) to the schema owner's URL to migrate or seed PostgreSQL")
        }
        return ownerClient
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.pool.run() }
            if let ownerClient = self.ownerClient { group.addTask { await ownerClient.run() } }
        }
    }

    /// The pools close when `run()` is cancelled.
    func close() async {}

    static func bindings(_ binds: [SQLBind]) throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .text(let text), .uuid(let text), .date(let text), .timestamp(let text), .decimal(let text): bindings.append(text)
            case .integer(let number): bindings.append(Int64(number))
            case .bool(let value): bindings.append(value)
            case .null: bindings.appendNull()
            }
        }
        return bindings
    }

    /// One statement, one round trip: autocommit, with the tenant set by ``tenantScoped(_:tenantID:)``.
    func query(_ statement: SQLStatement, columns: [HMSColumn], tenantID: String?) async throws -> [HMSRow] {
        let logger = self.logger
        let scoped = tenantID.map { Self.tenantScoped(statement, tenantID: $0) } ?? statement
        return try await pool.withConnection { connection in
            try await Transaction(connection: connection, logger: logger).query(scoped, columns: columns)
        }
    }

    /// One statement for a batch of any number of tenants: `gw_audit_enqueue` inserts each
    /// tenant's rows under that tenant's setting, local to the statement's transaction.
    func enqueueAudit(_ records: [HMSRepository.AuditRecord]) async throws {
        let rows = JSON.array(records.map { record in
            .object(["tenant_id": .string(record.tenantID), "id": .string(record.id),
                     "recorded": .string(CivilTime.isoInstant(epochSeconds: record.recorded)), "action": .string(record.action),
                     "subtype": .string(record.subtype), "outcome": .string(record.outcome),
                     "agent": record.storedAgent.map(JSON.string) ?? .null,
                     "patients": .string(record.storedPatients), "body": .string(record.event.serializedString)])
        })
        let logger = self.logger
        try await pool.withConnection { connection in
            try await Transaction(connection: connection, logger: logger).execute("SELECT gw_audit_enqueue(\(SQLBind.text(rows.serializedString))::jsonb)")
        }
    }

    /// `statement` as one autocommit statement that sets `app.tenant_id` for its own implicit
    /// transaction before it reads anything. The uncorrelated sub-select becomes an init plan in the
    /// gating one-time filter above every scan of `statement`, so it runs first; the setting is
    /// transaction-local and ends with the statement. Should the order ever differ, the policy reads
    /// no tenant and the query sees nothing (it fails closed), and the statement's own tenant
    /// predicate still holds.
    static func tenantScoped(_ statement: SQLStatement, tenantID: String) -> SQLStatement {
        "SELECT * FROM (\(statement)) AS tenant_scoped WHERE (SELECT set_config('app.tenant_id', \(SQLBind.text(tenantID)), true)) IS NOT NULL"
    }

    /// postgres-nio wraps whatever a transaction throws; callers see the error itself (a FHIR
    /// error raised inside stays a FHIR error, a lost connection stays a connection error).
    static func unwrapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    static func row(_ row: PostgresRow) throws -> HMSRow {
        var values = [String: HMSRow.Value](minimumCapacity: row.count)
        for cell in row {
            guard cell.bytes != nil else { values[cell.columnName] = .null; continue }
            switch cell.dataType {
            case .uuid: values[cell.columnName] = .text(try cell.decode(UUID.self).lowercasedString)
            case .date: values[cell.columnName] = .text(CivilTime.isoDate(epochSeconds: Int64(try cell.decode(Date.self).timeIntervalSince1970)))
            case .timestamptz, .timestamp:
                values[cell.columnName] = .integer(Int64(try cell.decode(Date.self).timeIntervalSince1970.rounded(.down)))
            case .bool: values[cell.columnName] = .bool(try cell.decode(Bool.self))
            case .int2, .int4, .int8: values[cell.columnName] = .integer(Int64(try cell.decode(Int.self)))
            default: values[cell.columnName] = .text(try cell.decode(String.self))
            }
        }
        return HMSRow(values: values)
    }

    func migrate() async throws {
        let logger = self.logger
        let role = gatewayRole
        try await owner().withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(727274)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS gateway_schema_version (version integer NOT NULL)", logger: logger)
            var version = 0
            for try await (current) in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM gateway_schema_version", logger: logger).decode(Int.self) {
                version = current
            }
            for step in Migrations.steps(.postgres, gatewayRole: role) where step.version > version {
                for statement in step.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO gateway_schema_version (version) VALUES (\(step.version))", logger: logger)
            }
        }
    }

    func insert(table: String, columns: [HMSSchema.Column], rows: [[SQLBind]], tenantID: String) async throws {
        guard !rows.isEmpty else { return }
        let logger = self.logger
        let rowsPerStatement = max(1, 60_000 / columns.count)
        let names = columns.map(\.name).joined(separator: ", ")
        try await owner().withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('app.tenant_id', \(tenantID), true)", logger: logger)
            var start = 0
            while start < rows.count {
                let chunk = Array(rows[start..<min(rows.count, start + rowsPerStatement)])
                var statement = SQLStatement("INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: names)) VALUES ")
                for (index, row) in chunk.enumerated() {
                    statement.append(index == 0 ? "(" : ", (")
                    for (position, value) in row.enumerated() {
                        statement.append(position == 0 ? "?" : ", ?", value)
                    }
                    statement.append(")")
                }
                let query = PostgresQuery(unsafeSQL: statement.postgresSQL(), binds: try Self.bindings(statement.binds))
                try await connection.query(query, logger: logger)
                start += rowsPerStatement
            }
        }
    }

    struct Transaction: DatabaseTransaction {
        let connection: PostgresConnection
        let logger: Logger

        func query(_ statement: SQLStatement, columns: [HMSColumn]) async throws -> [HMSRow] {
            let query = PostgresQuery(unsafeSQL: statement.postgresSQL(), binds: try PostgresBackend.bindings(statement.binds))
            var rows: [HMSRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(try PostgresBackend.row(row)) }
            return rows
        }

        func execute(_ statement: SQLStatement) async throws {
            let query = PostgresQuery(unsafeSQL: statement.postgresSQL(), binds: try PostgresBackend.bindings(statement.binds))
            // A statement that returns rows reports an error raised while it runs only to whoever reads its rows.
            for try await _ in try await connection.query(query, logger: logger) {}
        }

        func setTenant(_ tenantID: String) async throws {
            try await connection.query("SELECT set_config('app.tenant_id', \(tenantID), true)", logger: logger)
        }

        func lock(_ key: String) async throws {
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))", logger: logger)
        }

        func sealAudit(tenantID: String, seals: [AuditSeal]) async throws {
            let list = JSON.array(seals.map { seal in
                .object(["arrival": .number(String(seal.arrival)), "sequence": .number(String(seal.sequence)),
                         "previous": .string(seal.previous), "hash": .string(seal.hash)])
            })
            try await execute("SELECT gw_audit_seal(\(SQLBind.uuid(tenantID)), \(SQLBind.text(list.serializedString))::jsonb)")
        }

        func purgeTenant(_ tenantID: String) async throws {
            try await execute("SELECT gw_purge_tenant(\(SQLBind.uuid(tenantID)))")
        }
    }

    func withWriteTransaction<T: Sendable>(tenantID: String, lockKeys: [String],
                                           _ body: @Sendable (any DatabaseTransaction) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await Self.unwrapped {
            try await pool.withConnection { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query("SELECT set_config('app.tenant_id', \(tenantID), true)", logger: logger)
                    for lockKey in lockKeys.sorted() {
                        try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(lockKey), 0))", logger: logger)
                    }
                    return try await body(Transaction(connection: connection, logger: logger))
                }
            }
        }
    }

    func withReadSnapshot<T: Sendable>(tenantID: String, _ body: @Sendable ((any CursorSession)?) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await Self.unwrapped {
            try await pool.withConnection { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                    try await connection.query("SELECT set_config('app.tenant_id', \(tenantID), true)", logger: logger)
                    return try await body(Cursors(transaction: Transaction(connection: connection, logger: logger)))
                }
            }
        }
    }

    /// Cursors of one snapshot transaction, each closed when its stream ends.
    final class Cursors: CursorSession, @unchecked Sendable {
        let transaction: Transaction
        private var opened = 0

        init(transaction: Transaction) { self.transaction = transaction }

        func stream(_ statement: SQLStatement, columns: [HMSColumn], batch: Int, _ body: @Sendable ([HMSRow]) async throws -> Bool) async throws {
            opened += 1
            let name = "gw_stream_\(opened)"
            try await transaction.execute(SQLStatement("DECLARE \(unsafeRaw: name) NO SCROLL CURSOR FOR \(statement)"))
            let fetch = SQLStatement("FETCH FORWARD \(max(1, batch)) FROM \(unsafeRaw: name)")
            while true {
                let rows = try await transaction.query(fetch, columns: columns)
                guard !rows.isEmpty, try await body(rows) else { break }
            }
            try await transaction.execute(SQLStatement("CLOSE \(unsafeRaw: name)"))
        }
    }

    func upsertTenant(id: String, slug: String, name: String, updatedAt: String) async throws {
        try await owner().query(
            "INSERT INTO tenants (id, slug, name, updated_at) VALUES (\(id)::uuid, \(slug), \(name), \(updatedAt)::timestamptz) ON CONFLICT (slug) DO UPDATE SET name = excluded.name",
            logger: logger)
    }

    func analyze() async throws {
        try await owner().query("ANALYZE", logger: logger)
    }

    func isReachable() async -> Bool {
        let logger = self.logger
        do {
            try await pool.withConnection { connection in _ = try await connection.query("SELECT 1", logger: logger) }
            return true
        } catch {
            return false
        }
    }
}

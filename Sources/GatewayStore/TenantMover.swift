import Foundation
import Logging
import PostgresNIO

/// Copies one tenant's rows between two PostgreSQL stores, as the schema owner of each (row-level
/// security is forced for owners too, so every statement runs inside the tenant's setting).
/// ``TenantMove`` (GatewayApp) runs the steps in order, around the registry changes.
public struct TenantMover: Sendable {
    /// HMS tables, parents first; the tenant's own row in `tenants` goes first and is keyed by `id`.
    static let hmsTables = ["hospitals", "departments", "patients", "doctors", "appointments", "admissions", "prescriptions"]
    static let gatewayTables = ["stored_resources", "stored_resource_versions", "stored_resource_tokens"]
    /// Written by the gateway clock: a write this long before the snapshot's clock still counts as "after" it.
    public static let clockMargin: TimeInterval = 60

    let source: PostgresConnection.Configuration
    let target: PostgresConnection.Configuration
    public let tenantID: String
    let logger: Logger

    public struct Snapshot: Sendable {
        /// The chain position copied with the snapshot.
        public let auditSequence: Int64
        /// The store's clock when the snapshot was taken.
        public let taken: Date
        public let rows: Int
    }

    public init(sourceURL: String, targetURL: String, tenantID: String, logger: Logger) throws {
        guard let uuid = UUID(uuidString: tenantID) else { throw StoreError("tenant id is not a UUID") }
        self.source = try PostgresBackend.endpoint(sourceURL).probe
        self.target = try PostgresBackend.endpoint(targetURL).probe
        self.tenantID = uuid.uuidString.lowercased()
        var quiet = logger
        if quiet.logLevel < .info { quiet.logLevel = .info }
        self.logger = quiet
    }

    private func connect(_ configuration: PostgresConnection.Configuration) async throws -> PostgresConnection {
        var configuration = configuration
        configuration.options.connectTimeout = .seconds(10)
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
    }

    /// Runs `body` on a connection in one transaction with the tenant set (`mode` as in `BEGIN <mode>`).
    private func transaction<T: Sendable>(_ configuration: PostgresConnection.Configuration, mode: String = "",
                                          _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await connect(configuration)
        do {
            try await run(connection, "BEGIN \(mode)")
            try await run(connection, "SELECT set_config('app.tenant_id', '\(tenantID)', true)")
            let result = try await body(connection)
            try await run(connection, "COMMIT")
            try await connection.close()
            return result
        } catch {
            try? await run(connection, "ROLLBACK")
            try? await connection.close()
            throw error
        }
    }

    private func run(_ connection: PostgresConnection, _ sql: String) async throws {
        for try await _ in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {}
    }

    private func strings(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [String] {
        var values: [String] = []
        for try await row in try await connection.query(query, logger: logger) { values.append(try row.decode(String.self)) }
        return values
    }

    private func integer(_ connection: PostgresConnection, _ sql: String) async throws -> Int64 {
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) { return value }
        return 0
    }

    /// The columns a copy writes: every stored column (generated ones are computed again).
    private func columns(_ connection: PostgresConnection, table: String) async throws -> String {
        let names = try await strings(connection, """
            SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = \(table) AND is_generated = 'NEVER' ORDER BY ordinal_position
            """)
        return names.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    /// Streams the rows `select` yields (as JSON) from `from` into `table` on `to`, 2,000 at a time
    /// through a cursor; `conflict` is the insert's ON CONFLICT clause. Returns the rows copied.
    private func copy(_ select: String, into table: String, from: PostgresConnection, to: PostgresConnection,
                      conflict: String = "") async throws -> Int {
        let columns = try await columns(to, table: table)
        try await run(from, "DECLARE tenant_copy NO SCROLL CURSOR FOR SELECT row_to_json(t)::text FROM (\(select)) t")
        var copied = 0
        while true {
            let rows = try await strings(from, PostgresQuery(unsafeSQL: "FETCH 2000 FROM tenant_copy"))
            if rows.isEmpty { break }
            let batch = "[" + rows.joined(separator: ",") + "]"
            var bindings = PostgresBindings()
            bindings.append(batch)
            let insert = PostgresQuery(unsafeSQL: "INSERT INTO \(table) (\(columns)) SELECT \(columns) FROM json_populate_recordset(NULL::\(table), $1::json) \(conflict)",
                                       binds: bindings)
            for try await _ in try await to.query(insert, logger: logger) {}
            copied += rows.count
        }
        try await run(from, "CLOSE tenant_copy")
        return copied
    }

    /// Refuses to copy over rows the target already holds for this tenant.
    public func requireEmptyTarget() async throws {
        try await transaction(target) { connection in
            let present = try await integer(connection, "SELECT count(*) FROM tenants WHERE id = '\(tenantID)'")
                + integer(connection, "SELECT count(*) FROM patients WHERE tenant_id = '\(tenantID)'")
                + integer(connection, "SELECT count(*) FROM stored_resources WHERE tenant_id = '\(tenantID)'")
                + integer(connection, "SELECT count(*) FROM audit_events WHERE tenant_id = '\(tenantID)'")
            guard present == 0 else { throw StoreError("the target store already holds rows of this tenant; remove them or pick another store") }
        }
    }

    /// Copies every row of the tenant, as one consistent snapshot of the source (repeatable read).
    public func copySnapshot() async throws -> Snapshot {
        try await transaction(source, mode: "ISOLATION LEVEL REPEATABLE READ READ ONLY") { from in
            let taken = Date()
            let sequence = try await integer(from, "SELECT COALESCE(MAX(sequence), 0) FROM audit_events WHERE tenant_id = '\(tenantID)'")
            let rows = try await transaction(target) { to in
                var rows = try await copy("SELECT * FROM tenants WHERE id = '\(tenantID)'", into: "tenants", from: from, to: to)
                for table in Self.hmsTables + Self.gatewayTables + ["audit_events"] {
                    rows += try await copy("SELECT * FROM \(table) WHERE tenant_id = '\(tenantID)' AND \(table == "audit_events" ? "sequence <= \(sequence)" : "true")",
                                           into: table, from: from, to: to)
                }
                return rows
            }
            return Snapshot(auditSequence: sequence, taken: taken, rows: rows)
        }
    }

    /// Copies lab results written since `since` (less the clock margin): current rows replace the
    /// target's, versions are added, and their search tokens are replaced.
    public func copyWrites(since: Date) async throws -> Int {
        let after = ISO8601DateFormatter().string(from: since.addingTimeInterval(-Self.clockMargin))
        let changed = "SELECT * FROM stored_resources WHERE tenant_id = '\(tenantID)' AND last_updated >= '\(after)'"
        return try await transaction(source, mode: "ISOLATION LEVEL REPEATABLE READ READ ONLY") { from in
            try await transaction(target) { to in
                let columns = try await columns(to, table: "stored_resources")
                let updates = columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
                var rows = try await copy(changed, into: "stored_resources", from: from, to: to,
                                          conflict: "ON CONFLICT (tenant_id, resource_type, id) DO UPDATE SET \(updates)")
                rows += try await copy("SELECT v.* FROM stored_resource_versions v JOIN (\(changed)) s USING (tenant_id, resource_type, id)",
                                       into: "stored_resource_versions", from: from, to: to, conflict: "ON CONFLICT DO NOTHING")
                try await run(to, """
                    DELETE FROM stored_resource_tokens k WHERE k.tenant_id = '\(tenantID)' AND k.id IN (
                      SELECT id FROM stored_resources WHERE tenant_id = '\(tenantID)' AND last_updated >= '\(after)')
                    """)
                rows += try await copy("SELECT k.* FROM stored_resource_tokens k JOIN (\(changed)) s USING (tenant_id, resource_type, id)",
                                       into: "stored_resource_tokens", from: from, to: to)
                return rows
            }
        }
    }

    /// Copies the source's chain after `sequence` while holding the target's chain lock (the lock
    /// the sealer takes), so records arriving at the target meanwhile are chained after the copied
    /// tail. `whileLocked` runs first under the lock (the switch and the source's last seal).
    public func copyAuditTail(after sequence: Int64, whileLocked: @Sendable () async throws -> Void) async throws -> Int {
        try await transaction(target) { to in
            try await run(to, "SELECT pg_advisory_xact_lock(hashtextextended('audit|\(tenantID)', 0))")
            try await whileLocked()
            return try await transaction(source, mode: "ISOLATION LEVEL REPEATABLE READ READ ONLY") { from in
                let waiting = try await integer(from, "SELECT count(*) FROM audit_pending WHERE tenant_id = '\(tenantID)'")
                guard waiting == 0 else { throw StoreError("the source still has \(waiting) audit records waiting to be chained") }
                return try await copy("SELECT * FROM audit_events WHERE tenant_id = '\(tenantID)' AND sequence > \(sequence) ORDER BY sequence",
                                      into: "audit_events", from: from, to: to)
            }
        }
    }

    /// Row counts of the tenant in every table, source and target.
    public func counts() async throws -> [(table: String, source: Int64, target: Int64)] {
        let tables = ["tenants"] + Self.hmsTables + Self.gatewayTables + ["audit_events"]
        func count(_ configuration: PostgresConnection.Configuration) async throws -> [Int64] {
            try await transaction(configuration, mode: "READ ONLY") { connection in
                var values: [Int64] = []
                for table in tables {
                    values.append(try await integer(connection, "SELECT count(*) FROM \(table) WHERE \(table == "tenants" ? "id" : "tenant_id") = '\(tenantID)'"))
                }
                return values
            }
        }
        let sourceCounts = try await count(source)
        let targetCounts = try await count(target)
        return tables.indices.map { (tables[$0], sourceCounts[$0], targetCounts[$0]) }
    }

    /// The source's chain head (sequence and hash), to find the same record in the target's chain.
    public func sourceHead() async throws -> (sequence: Int64, hash: String)? {
        try await transaction(source, mode: "READ ONLY") { connection in
            let rows = try await strings(connection, PostgresQuery(unsafeSQL:
                "SELECT sequence::text || ' ' || hash FROM audit_events WHERE tenant_id = '\(tenantID)' ORDER BY sequence DESC LIMIT 1"))
            guard let text = rows.first, let space = text.firstIndex(of: " "), let sequence = Int64(text[..<space]) else { return nil }
            return (sequence, String(text[text.index(after: space)...]))
        }
    }

    public func targetHash(sequence: Int64) async throws -> String? {
        try await transaction(target, mode: "READ ONLY") { connection in
            try await strings(connection, PostgresQuery(unsafeSQL:
                "SELECT hash FROM audit_events WHERE tenant_id = '\(tenantID)' AND sequence = \(sequence)")).first
        }
    }

    /// Removes every row of the tenant from the source (after a verified move), in one transaction.
    public func removeFromSource() async throws { try await remove(from: source) }

    /// Removes a partial copy from the target (a move that failed before its switch).
    public func removeFromTarget() async throws { try await remove(from: target) }

    private func remove(from configuration: PostgresConnection.Configuration) async throws {
        try await transaction(configuration) { connection in
            for table in (Self.hmsTables).reversed() { try await run(connection, "DELETE FROM \(table) WHERE tenant_id = '\(tenantID)'") }
            try await run(connection, "SELECT gw_purge_tenant('\(tenantID)')")
            try await run(connection, "DELETE FROM tenants WHERE id = '\(tenantID)'")
        }
    }
}

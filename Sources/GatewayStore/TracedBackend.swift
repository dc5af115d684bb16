import HMSMapping
import Tracing

/// Puts each statement the repository runs for a traced request in a `db.query` span (a write
/// transaction in a `db.transaction` span around its statements). Spans carry `db.system` and
/// `db.operation` (the statement's leading keyword, or the name of a fixed helper statement), never
/// SQL text or bound values. Untraced work passes straight through.
struct TracedBackend: DatabaseBackend {
    let base: any DatabaseBackend
    /// `postgresql` or `sqlite`, as OpenTelemetry names them.
    let system: String

    static func span<T>(_ name: String = "db.query", system: String, operation: @autoclosure () -> String,
                        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        try await RequestTracing.span(name, kind: .client, attributes: ["db.system": .string(system), "db.operation": .string(operation())], body)
    }

    /// The statement's leading keyword from a fixed set; the SQL itself never leaves the store.
    static func operation(_ statement: SQLStatement) -> String {
        let keyword = statement.sql.drop { $0 == " " || $0 == "\n" || $0 == "(" }.prefix { $0.isLetter }.uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].contains(keyword) ? keyword : "OTHER"
    }

    func query(_ statement: SQLStatement, columns: [HMSColumn], tenantID: String?) async throws -> [HMSRow] {
        try await Self.span(system: system, operation: Self.operation(statement)) {
            try await base.query(statement, columns: columns, tenantID: tenantID)
        }
    }

    func enqueueAudit(_ records: [HMSRepository.AuditRecord]) async throws {
        try await Self.span(system: system, operation: "INSERT") {
            try await base.enqueueAudit(records)
        }
    }

    func withWriteTransaction<T: Sendable>(tenantID: String, lockKeys: [String],
                                           _ body: @Sendable (any DatabaseTransaction) async throws -> T) async throws -> T {
        guard RequestTracing.isTracing else { return try await base.withWriteTransaction(tenantID: tenantID, lockKeys: lockKeys, body) }
        let system = self.system
        return try await Self.span("db.transaction", system: system, operation: "TRANSACTION") {
            try await base.withWriteTransaction(tenantID: tenantID, lockKeys: lockKeys) { transaction in
                try await body(Transaction(base: transaction, system: system))
            }
        }
    }

    func withReadSnapshot<T: Sendable>(tenantID: String, _ body: @Sendable ((any CursorSession)?) async throws -> T) async throws -> T {
        try await base.withReadSnapshot(tenantID: tenantID, body)
    }

    func migrate() async throws { try await base.migrate() }
    func insert(table: String, columns: [HMSSchema.Column], rows: [[SQLBind]], tenantID: String) async throws {
        try await base.insert(table: table, columns: columns, rows: rows, tenantID: tenantID)
    }
    func upsertTenant(id: String, slug: String, name: String, updatedAt: String) async throws {
        try await base.upsertTenant(id: id, slug: slug, name: name, updatedAt: updatedAt)
    }
    func analyze() async throws { try await base.analyze() }
    func isReachable() async -> Bool { await base.isReachable() }
    func run() async { await base.run() }
    func close() async { await base.close() }

    struct Transaction: DatabaseTransaction {
        let base: any DatabaseTransaction
        let system: String

        func query(_ statement: SQLStatement, columns: [HMSColumn]) async throws -> [HMSRow] {
            try await TracedBackend.span(system: system, operation: TracedBackend.operation(statement)) {
                try await base.query(statement, columns: columns)
            }
        }

        func execute(_ statement: SQLStatement) async throws {
            try await TracedBackend.span(system: system, operation: TracedBackend.operation(statement)) { try await base.execute(statement) }
        }

        func setTenant(_ tenantID: String) async throws {
            try await TracedBackend.span(system: system, operation: "set_tenant") { try await base.setTenant(tenantID) }
        }

        func lock(_ key: String) async throws {
            try await TracedBackend.span(system: system, operation: "lock") { try await base.lock(key) }
        }

        func sealAudit(tenantID: String, seals: [AuditSeal]) async throws {
            try await TracedBackend.span(system: system, operation: "seal_audit") { try await base.sealAudit(tenantID: tenantID, seals: seals) }
        }

        func purgeTenant(_ tenantID: String) async throws {
            try await TracedBackend.span(system: system, operation: "purge_tenant") { try await base.purgeTenant(tenantID) }
        }
    }
}

import FHIRModels
import Foundation
import HMSMapping
import Logging
import SQLiteNIO
import Synchronization

/// The embedded store: one SQLite file, a few connections in WAL mode.
final class SQLiteBackend: DatabaseBackend {
    private let readers: [SQLiteConnection]
    private let writer: SQLiteConnection
    private let next = Atomic<Int>(0)
    /// SQLite has one writer; this keeps each write transaction's statements together.
    private let writeLock = AsyncMutex()

    static func open(path: String, readerCount: Int = 4, logger: Logger) async throws -> SQLiteBackend {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let writer = try await openConnection(path: path, logger: logger)
        _ = try await writer.query("PRAGMA journal_mode = WAL", [])
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount { readers.append(try await openConnection(path: path, logger: logger)) }
        return SQLiteBackend(readers: readers, writer: writer)
    }

    private static func openConnection(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await connection.query("PRAGMA busy_timeout = 5000", [])
        _ = try await connection.query("PRAGMA foreign_keys = ON", [])
        // indirect: the folded name columns are generated with it, so the schema itself calls it.
        try await connection.install(customFunction: SQLiteCustomFunction("gw_fold", argumentCount: 1, pure: true, indirect: true) { arguments in
            guard case .text(let text) = arguments.first else { return nil as String? }
            return TextFolding.fold(text)
        })
        // PostgreSQL's `starts_with`, so both stores run the same prefix search.
        try await connection.install(customFunction: SQLiteCustomFunction("starts_with", argumentCount: 2, pure: true) { arguments in
            guard arguments.count == 2, case .text(let text) = arguments[0], case .text(let prefix) = arguments[1] else { return nil as Bool? }
            return text.utf8.starts(with: prefix.utf8)
        })
        return connection
    }

    private init(readers: [SQLiteConnection], writer: SQLiteConnection) {
        self.readers = readers
        self.writer = writer
    }

    private let closed = Atomic<Bool>(false)

    func run() async {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        // The thread pool refuses work from a cancelled task, so close from a fresh one.
        await Task { await self.close() }.value
    }

    func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        for connection in readers + [writer] { try? await connection.close() }
    }

    private func reader() -> SQLiteConnection {
        // Unsigned, so the index stays in range after the counter wraps.
        readers[Int(UInt(bitPattern: next.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(readers.count))]
    }

    static func data(_ bind: SQLBind) -> SQLiteData {
        switch bind {
        case .text(let text), .uuid(let text), .date(let text), .timestamp(let text): .text(text)
        case .integer(let number): .integer(Int(number))
        case .decimal(let text): .float(Double(text) ?? 0)
        case .bool(let value): .integer(value ? 1 : 0)
        case .null: .null
        }
    }

    func query(_ statement: SQLStatement, columns: [HMSColumn], tenantID: String?) async throws -> [HMSRow] {
        try await Transaction(connection: reader()).query(statement, columns: columns)
    }

    static func value(_ data: SQLiteData?, kind: HMSColumnKind) -> HMSRow.Value {
        switch (data, kind) {
        case (nil, _), (.null?, _): return .null
        case (.integer(let number)?, .bool): return .bool(number != 0)
        case (.integer(let number)?, _): return .integer(Int64(number))
        case (.text(let text)?, .timestamp):
            guard let instant = FHIRDateTime.parse(text) else { return .null }
            return .integer(instant.lower)
        case (.text(let text)?, _): return .text(text)
        case (.float(let number)?, .decimal): return .text(String(number))
        case (.float(let number)?, _): return Int64(exactly: number.rounded(.down)).map(HMSRow.Value.integer) ?? .null
        case (.blob?, _): return .null
        }
    }

    /// Ends the writer's open transaction even when the calling task is cancelled: the driver
    /// refuses work for a cancelled task, and a ROLLBACK left undone would leave the one writer
    /// connection inside the transaction, so that every later BEGIN failed.
    private func rollBack() async {
        let writer = self.writer
        await Task.detached { _ = try? await writer.query("ROLLBACK", []) }.value
    }

    func migrate() async throws {
        _ = try await writer.query("BEGIN IMMEDIATE", [])
        do {
            _ = try await writer.query("CREATE TABLE IF NOT EXISTS gateway_schema_version (version INTEGER NOT NULL)", [])
            let version = try await writer.query("SELECT MAX(version) AS version FROM gateway_schema_version", []).first?.column("version")?.integer ?? 0
            for step in Migrations.steps(.sqlite, gatewayRole: nil) where step.version > version {
                for statement in step.statements { _ = try await writer.query(statement, []) }
                _ = try await writer.query("INSERT INTO gateway_schema_version (version) VALUES (?)", [.integer(step.version)])
            }
            _ = try await writer.query("COMMIT", [])
        } catch {
            await rollBack()
            throw error
        }
    }

    func insert(table: String, columns: [HMSSchema.Column], rows: [[SQLBind]], tenantID: String) async throws {
        guard !rows.isEmpty else { return }
        try await writeLock.withLock { try await self.insertLocked(table: table, columns: columns, rows: rows) }
    }

    private func insertLocked(table: String, columns: [HMSSchema.Column], rows: [[SQLBind]]) async throws {
        let rowsPerStatement = max(1, 30_000 / columns.count)
        let names = columns.map(\.name).joined(separator: ", ")
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        _ = try await writer.query("BEGIN IMMEDIATE", [])
        do {
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(rows.count, start + rowsPerStatement)]
                let sql = "INSERT INTO \(table) (\(names)) VALUES " + Array(repeating: placeholders, count: chunk.count).joined(separator: ", ")
                _ = try await writer.query(sql, chunk.flatMap { $0.map(Self.data) })
                start += rowsPerStatement
            }
            _ = try await writer.query("COMMIT", [])
        } catch {
            await rollBack()
            throw error
        }
    }

    struct Transaction: DatabaseTransaction {
        let connection: SQLiteConnection

        func query(_ statement: SQLStatement, columns: [HMSColumn]) async throws -> [HMSRow] {
            let rows = try await connection.query(statement.sql, statement.binds.map(SQLiteBackend.data))
            return rows.map { row in
                var values = [String: HMSRow.Value](minimumCapacity: columns.count)
                for column in columns { values[column.name] = SQLiteBackend.value(row.column(column.name), kind: column.kind) }
                return HMSRow(values: values)
            }
        }

        func execute(_ statement: SQLStatement) async throws {
            _ = try await connection.query(statement.sql, statement.binds.map(SQLiteBackend.data))
        }

        func setTenant(_ tenantID: String) async throws {}
        func lock(_ key: String) async throws {}

        func sealAudit(tenantID: String, seals: [AuditSeal]) async throws {
            let tenant = SQLBind.uuid(tenantID)
            var list: SQLStatement = "WITH s (arrival, sequence, previous, hash) AS (VALUES "
            var arrivals: SQLStatement = ""
            for (index, seal) in seals.enumerated() {
                list.append(index == 0 ? "(?, ?, ?, ?)" : ", (?, ?, ?, ?)", [.integer(seal.arrival), .integer(seal.sequence), .text(seal.previous), .text(seal.hash)])
                arrivals.append(index == 0 ? "?" : ", ?", [.integer(seal.arrival)])
            }
            try await execute("""
                \(list)) INSERT INTO audit_events (tenant_id, sequence, id, recorded, action, subtype, outcome, agent, patients, body, previous_hash, hash, hash_scheme)
                SELECT p.tenant_id, s.sequence, p.id, p.recorded, p.action, p.subtype, p.outcome, p.agent, p.patients, p.body, s.previous, s.hash, 2
                  FROM s JOIN audit_pending p ON p.tenant_id = \(tenant) AND p.arrival = s.arrival
                """)
            let moved = try await query("SELECT changes() AS moved", columns: [HMSColumn("moved", .integer)]).first?.integer("moved")
            guard moved == Int64(seals.count) else { throw StoreError("waiting audit records are missing") }
            try await execute("DELETE FROM audit_pending WHERE tenant_id = \(tenant) AND arrival IN (\(arrivals))")
        }

        /// The append-only trigger is lifted for this transaction only: it is back before the commit.
        func purgeTenant(_ tenantID: String) async throws {
            try await execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
            for table in TenantRegistrySchema.tenantTables {
                try await execute("DELETE FROM \(unsafeRaw: table) WHERE tenant_id = \(SQLBind.uuid(tenantID))")
            }
            try await execute("\(unsafeRaw: AuditSchema.sqliteNoDeleteTrigger)")
        }
    }

    func enqueueAudit(_ records: [HMSRepository.AuditRecord]) async throws {
        guard let first = records.first else { return }
        try await withWriteTransaction(tenantID: first.tenantID, lockKeys: []) { transaction in
            try await HMSRepository.enqueueAudit(records, transaction: transaction)
        }
    }

    func withReadSnapshot<T: Sendable>(tenantID: String, _ body: @Sendable ((any CursorSession)?) async throws -> T) async throws -> T {
        try await body(nil)
    }

    func withWriteTransaction<T: Sendable>(tenantID: String, lockKeys: [String],
                                           _ body: @Sendable (any DatabaseTransaction) async throws -> T) async throws -> T {
        let writer = self.writer
        return try await writeLock.withLock {
            _ = try await writer.query("BEGIN IMMEDIATE", [])
            do {
                let result = try await body(Transaction(connection: writer))
                _ = try await writer.query("COMMIT", [])
                return result
            } catch {
                await rollBack()
                throw error
            }
        }
    }

    func upsertTenant(id: String, slug: String, name: String, updatedAt: String) async throws {
        _ = try await writer.query(
            "INSERT INTO tenants (id, slug, name, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (slug) DO UPDATE SET name = excluded.name",
            [.text(id), .text(slug), .text(name), .text(updatedAt)])
    }

    func analyze() async throws {
        let writer = self.writer
        _ = try await writeLock.withLock { try await writer.query("ANALYZE", []) }
    }

    func isReachable() async -> Bool {
        (try? await reader().query("SELECT 1 AS one", []).isEmpty == false) ?? false
    }
}

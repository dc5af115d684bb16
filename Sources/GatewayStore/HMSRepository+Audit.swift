import Crypto
import FHIRModels
import Foundation
import HMSMapping

/// The audit trail: AuditEvents appended per tenant, each carrying the SHA-256 of the previous
/// record of the same tenant, so editing, deleting or reordering any record breaks the chain.
extension HMSRepository {
    public struct AuditRecord: Sendable {
        public var tenantID: String
        public var id: String
        public var recorded: Int64
        public var action: String
        public var subtype: String
        public var outcome: String
        public var agent: String?
        public var patients: [String]
        /// The AuditEvent resource.
        public var event: JSON

        /// The agent as stored: stores read an empty text back as absent, so an empty agent is
        /// stored as NULL and hashes the same both ways.
        var storedAgent: String? { agent.flatMap { $0.isEmpty ? nil : $0 } }
        var storedPatients: String { patients.joined(separator: ",") }

        public init(tenantID: String, id: String, recorded: Int64, action: String, subtype: String, outcome: String,
                    agent: String?, patients: [String], event: JSON) {
            self.tenantID = tenantID
            self.id = id
            self.recorded = recorded
            self.action = action
            self.subtype = subtype
            self.outcome = outcome
            self.agent = agent
            self.patients = patients
            self.event = event
        }
    }

    public static let genesisHash = String(repeating: "0", count: 64)

    /// Scheme 1 (records written before schema version 4): SHA-256 over the previous hash and the body.
    public static func chainHash(previous: String, body: String) -> String {
        hex(SHA256.hash(data: Data((previous + "\n" + body).utf8)))
    }

    /// The scheme new records use.
    public static let currentHashScheme: Int64 = 2

    /// Scheme 2: SHA-256 over the previous hash and every column of the record, as one JSON array
    /// (no separator can be forged), so clearing `patients` or `agent` breaks the chain too.
    public static func chainHash(previous: String, tenantID: String, sequence: Int64, id: String, recorded: Int64, action: String,
                                 subtype: String, outcome: String, agent: String?, patients: String, body: String) -> String {
        let fields: [JSON] = [.string(previous), .string(tenantID.lowercased()), .int(Int(sequence)), .string(id.lowercased()),
                              .string(CivilTime.isoInstant(epochSeconds: recorded)), .string(action), .string(subtype), .string(outcome),
                              agent.map(JSON.string) ?? .null, .string(patients), .string(body)]
        return hex(SHA256.hash(data: Data(JSON.array(fields).serialized)))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase hex, without `String(format:)` (which dominated sealing in a profile).
    private static func hex(_ digest: SHA256.Digest) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(SHA256.byteCount * 2)
        for byte in digest {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static let auditColumns = [
        HMSColumn("sequence", .integer), HMSColumn("id", .uuid), HMSColumn("recorded", .timestamp), HMSColumn("action", .text),
        HMSColumn("subtype", .text), HMSColumn("outcome", .text), HMSColumn("agent", .text), HMSColumn("patients", .text),
        HMSColumn("body", .text), HMSColumn("previous_hash", .text), HMSColumn("hash", .text), HMSColumn("hash_scheme", .integer),
    ]

    /// Records per insert statement: 9 binds each stays below SQLite's 32,766 and PostgreSQL's 65,535.
    static let auditInsertChunk = 500

    /// Stores `records` (of any tenants) as waiting to be chained: one statement per chunk, taking
    /// no lock, durable when it returns. The sealer chains them shortly after.
    public func enqueueAudit(_ records: [AuditRecord]) async throws {
        try await tracked {
            for start in stride(from: 0, to: records.count, by: Self.auditInsertChunk) {
                try await backend.enqueueAudit(Array(records[start..<min(start + Self.auditInsertChunk, records.count)]))
            }
        }
        for tenantID in Set(records.map(\.tenantID)) { sealer.schedule(tenantID) }
    }

    static let pendingInsert: SQLStatement = "INSERT INTO audit_pending (tenant_id, id, recorded, action, subtype, outcome, agent, patients, body) "

    static func pendingValues(_ records: ArraySlice<AuditRecord>) -> SQLStatement {
        var values: SQLStatement = "VALUES "
        for (index, record) in records.enumerated() {
            let binds: [SQLBind] = [.uuid(record.tenantID), .uuid(record.id), .timestamp(CivilTime.isoInstant(epochSeconds: record.recorded)),
                                    .text(record.action), .text(record.subtype), .text(record.outcome), record.storedAgent.map(SQLBind.text) ?? .null,
                                    .text(record.storedPatients), .text(record.event.serializedString)]
            values.append(index == 0 ? "(?, ?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?, ?)", binds)
        }
        return values
    }

    /// Inserts waiting records inside a write transaction, so they commit with its writes.
    static func enqueueAudit(_ records: [AuditRecord], transaction: any DatabaseTransaction) async throws {
        for start in stride(from: 0, to: records.count, by: auditInsertChunk) {
            let chunk = records[start..<min(start + auditInsertChunk, records.count)]
            try await transaction.execute("\(pendingInsert)\(pendingValues(chunk))")
        }
    }

    /// Chains every waiting record of the tenant now (before the trail is read, verified or exported).
    public func sealAudit(tenantID: String) async throws {
        try await tracked { try await sealer.seal(tenantID) }
    }

    /// Chains what earlier processes left waiting (a crash between a request and its seal), one
    /// tenant after another, in the background; a tenant that fails is retried by its next seal.
    public func sealWaitingAuditInBackground(tenantIDs: [String]) {
        let sealer = self.sealer
        Task {
            for tenantID in tenantIDs { try? await sealer.seal(tenantID) }
        }
    }

    /// Records chained per transaction.
    static let sealBatchSize = 500

    static let pendingColumns = [
        HMSColumn("arrival", .integer), HMSColumn("id", .uuid), HMSColumn("recorded", .timestamp), HMSColumn("action", .text),
        HMSColumn("subtype", .text), HMSColumn("outcome", .text), HMSColumn("agent", .text), HMSColumn("patients", .text), HMSColumn("body", .text),
    ]

    /// Bytes of record bodies read by one statement while sealing.
    static let sealReadBytes = 32_768

    /// The tenant's oldest waiting records (up to ``sealBatchSize``), in arrival order, read a few at a
    /// time: postgres-nio 1.33 stops the process if the server closes the connection while a result
    /// bigger than one socket read is streaming (a precondition in its row stream), so no statement
    /// here returns more than about ``sealReadBytes`` of bodies.
    static func waitingRecords(tenantID: String, transaction: any DatabaseTransaction) async throws -> [HMSRow] {
        let sizes = try await transaction.query(
            "SELECT arrival, length(body) AS size FROM audit_pending WHERE tenant_id = \(SQLBind.uuid(tenantID)) ORDER BY arrival LIMIT \(sealBatchSize)",
            columns: [HMSColumn("arrival", .integer), HMSColumn("size", .integer)])
        var groups: [[Int64]] = []
        var groupBytes = 0
        for row in sizes {
            guard let arrival = row.integer("arrival") else { continue }
            let size = Int(row.integer("size") ?? 0)
            if groups.isEmpty || groupBytes + size > sealReadBytes {
                groups.append([])
                groupBytes = 0
            }
            groups[groups.count - 1].append(arrival)
            groupBytes += size
        }
        var records: [HMSRow] = []
        for group in groups {
            var statement: SQLStatement = "SELECT arrival, id, recorded, action, subtype, outcome, agent, patients, body FROM audit_pending WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND arrival IN ("
            for (index, arrival) in group.enumerated() { statement.append(index == 0 ? "?" : ", ?", .integer(arrival)) }
            statement.append(") ORDER BY arrival")
            records += try await transaction.query(statement, columns: pendingColumns)
        }
        return records
    }

    /// Chains up to ``sealBatchSize`` of the tenant's oldest waiting records, under the tenant's chain
    /// lock, in one transaction; returns how many.
    static func sealChunk(tenantID: String, backend: any DatabaseBackend) async throws -> Int {
        try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: ["audit|\(tenantID)"]) { transaction in
            let pending = try await waitingRecords(tenantID: tenantID, transaction: transaction)
            guard !pending.isEmpty else { return 0 }
            let last = try await transaction.query(
                "SELECT sequence, hash FROM audit_events WHERE tenant_id = \(SQLBind.uuid(tenantID)) ORDER BY sequence DESC LIMIT 1",
                columns: [HMSColumn("sequence", .integer), HMSColumn("hash", .text)]).first
            var sequence = last?.integer("sequence") ?? 0
            var previous = last?.string("hash") ?? genesisHash
            var seals: [AuditSeal] = []
            for row in pending {
                guard let arrival = row.integer("arrival"), let id = row.string("id"), let recorded = row.integer("recorded"),
                      let action = row.string("action"), let subtype = row.string("subtype"), let outcome = row.string("outcome"),
                      let body = row.string("body") else { throw StoreError("a waiting audit record is incomplete") }
                sequence += 1
                let hash = chainHash(previous: previous, tenantID: tenantID, sequence: sequence, id: id, recorded: recorded, action: action,
                                     subtype: subtype, outcome: outcome, agent: row.string("agent"), patients: row.string("patients") ?? "", body: body)
                seals.append(AuditSeal(arrival: arrival, sequence: sequence, previous: previous, hash: hash))
                previous = hash
            }
            try await transaction.sealAudit(tenantID: tenantID, seals: seals)
            return pending.count
        }
    }

    /// Audit rows of a tenant in chain order, starting after `sequence` (for verification and export).
    public func auditEvents(tenantID: String, after sequence: Int64, limit: Int) async throws -> [HMSRow] {
        if sequence == 0 { try await sealAudit(tenantID: tenantID) }
        let statement = SQLStatement(
            "SELECT sequence, id, recorded, action, subtype, outcome, agent, patients, body, previous_hash, hash, hash_scheme FROM audit_events t WHERE t.tenant_id = ? AND t.sequence > ? ORDER BY t.sequence LIMIT \(max(1, limit))",
            [.uuid(tenantID), .integer(sequence)])
        return try await tracked { try await backend.query(statement, columns: Self.auditColumns, tenantID: tenantID) }
    }

    public struct ChainBreak: Sendable, CustomStringConvertible {
        public let sequence: Int64
        public let id: String?
        public let problem: String
        public var description: String { "record \(sequence)\(id.map { " (AuditEvent/\($0))" } ?? ""): \(problem)" }
    }

    /// Walks a tenant's chain; nil when intact, else the first broken record.
    public func verifyAudit(tenantID: String) async throws -> (count: Int64, firstBreak: ChainBreak?) {
        var expected: Int64 = 1
        var previous = Self.genesisHash
        while true {
            let rows = try await auditEvents(tenantID: tenantID, after: expected - 1, limit: 1000)
            if rows.isEmpty { return (expected - 1, nil) }
            for row in rows {
                let sequence = row.integer("sequence") ?? -1
                let id = row.string("id")
                guard sequence == expected else {
                    return (expected - 1, ChainBreak(sequence: expected, id: nil, problem: "missing: the next stored record is \(sequence)"))
                }
                guard row.string("previous_hash") == previous else {
                    return (expected - 1, ChainBreak(sequence: sequence, id: id, problem: "does not follow the previous record"))
                }
                guard let body = row.string("body"), Self.expectedHash(row, tenantID: tenantID, previous: previous, body: body) == row.string("hash") else {
                    return (expected - 1, ChainBreak(sequence: sequence, id: id, problem: "content does not match its hash"))
                }
                previous = row.string("hash") ?? ""
                expected += 1
            }
        }
    }

    /// The hash a stored row should carry under its scheme (scheme 1: legacy rows, body only).
    static func expectedHash(_ row: HMSRow, tenantID: String, previous: String, body: String) -> String? {
        switch row.integer("hash_scheme") ?? 1 {
        case 1: return chainHash(previous: previous, body: body)
        case 2:
            guard let sequence = row.integer("sequence"), let id = row.string("id"), let recorded = row.integer("recorded"),
                  let action = row.string("action"), let subtype = row.string("subtype"), let outcome = row.string("outcome") else { return nil }
            return chainHash(previous: previous, tenantID: tenantID, sequence: sequence, id: id, recorded: recorded, action: action,
                             subtype: subtype, outcome: outcome, agent: row.string("agent"), patients: row.string("patients") ?? "", body: body)
        default: return nil
        }
    }

    /// The newest record of a tenant's chain: what an anchor signs.
    public func auditHead(tenantID: String) async throws -> (sequence: Int64, hash: String)? {
        try await sealAudit(tenantID: tenantID)
        let statement = SQLStatement("SELECT sequence, hash FROM audit_events t WHERE t.tenant_id = ? ORDER BY t.sequence DESC LIMIT 1", [.uuid(tenantID)])
        let row = try await tracked {
            try await backend.query(statement, columns: [HMSColumn("sequence", .integer), HMSColumn("hash", .text)], tenantID: tenantID)
        }.first
        guard let row, let sequence = row.integer("sequence"), let hash = row.string("hash") else { return nil }
        return (sequence, hash)
    }

    /// The hash of one record of a tenant's chain, if it exists.
    public func auditHash(tenantID: String, sequence: Int64) async throws -> String? {
        let statement = SQLStatement("SELECT hash FROM audit_events t WHERE t.tenant_id = ? AND t.sequence = ?", [.uuid(tenantID), .integer(sequence)])
        return try await tracked { try await backend.query(statement, columns: [HMSColumn("hash", .text)], tenantID: tenantID) }.first?.string("hash")
    }
}

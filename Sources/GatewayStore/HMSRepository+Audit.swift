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

    /// The chain link: SHA-256 over the previous hash and the record's canonical JSON.
    public static func chainHash(previous: String, body: String) -> String {
        SHA256.hash(data: Data((previous + "\n" + body).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static let auditColumns = [
        HMSColumn("sequence", .integer), HMSColumn("id", .uuid), HMSColumn("recorded", .timestamp), HMSColumn("action", .text),
        HMSColumn("subtype", .text), HMSColumn("outcome", .text), HMSColumn("agent", .text), HMSColumn("patients", .text),
        HMSColumn("body", .text), HMSColumn("previous_hash", .text), HMSColumn("hash", .text),
    ]

    /// Appends records in one transaction: per tenant, in order, under that tenant's chain lock,
    /// with one multi-row insert. Tenants are switched inside the transaction, so a batch of many
    /// tenants still costs one commit.
    /// Records per insert statement: 12 binds each stays below SQLite's 32,766 and PostgreSQL's 65,535.
    static let auditInsertChunk = 500

    public func appendAudit(_ batches: [(tenantID: String, records: [AuditRecord])]) async throws {
        guard let first = batches.first?.tenantID else { return }
        beginCall()
        defer { endCall() }
        try await backend.withWriteTransaction(tenantID: first, lockKeys: []) { transaction in
            for (tenantID, records) in batches where !records.isEmpty {
                try await transaction.setTenant(tenantID)
                try await transaction.lock("audit|\(tenantID)")
                let last = try await transaction.query(
                    SQLStatement("SELECT sequence, hash FROM audit_events WHERE tenant_id = ? ORDER BY sequence DESC LIMIT 1", [.uuid(tenantID)]),
                    columns: [HMSColumn("sequence", .integer), HMSColumn("hash", .text)]).first
                var sequence = last?.integer("sequence") ?? 0
                var previous = last?.string("hash") ?? Self.genesisHash
                // Chunks keep every statement under both stores' bind-parameter limits (12 binds a record).
                var start = 0
                while start < records.count {
                    let chunk = records[start..<min(start + Self.auditInsertChunk, records.count)]
                    var insert = SQLStatement("""
                        INSERT INTO audit_events (tenant_id, sequence, id, recorded, action, subtype, outcome, agent, patients, body, previous_hash, hash) VALUES
                        """)
                    for (index, record) in chunk.enumerated() {
                        sequence += 1
                        let body = record.event.serializedString
                        let hash = Self.chainHash(previous: previous, body: body)
                        insert.append(index == 0 ? " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                        insert.binds += [.uuid(tenantID), .integer(sequence), .uuid(record.id), .timestamp(CivilTime.isoInstant(epochSeconds: record.recorded)),
                                         .text(record.action), .text(record.subtype), .text(record.outcome), record.agent.map(SQLBind.text) ?? .null,
                                         .text(record.patients.joined(separator: ",")), .text(body), .text(previous), .text(hash)]
                        previous = hash
                    }
                    try await transaction.execute(insert)
                    start += chunk.count
                }
            }
        }
    }

    /// Audit rows of a tenant in chain order, starting after `sequence` (for verification and export).
    public func auditEvents(tenantID: String, after sequence: Int64, limit: Int) async throws -> [HMSRow] {
        let statement = SQLStatement(
            "SELECT sequence, id, recorded, action, subtype, outcome, agent, patients, body, previous_hash, hash FROM audit_events t WHERE t.tenant_id = ? AND t.sequence > ? ORDER BY t.sequence LIMIT \(max(1, limit))",
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
                guard let body = row.string("body"), Self.chainHash(previous: previous, body: body) == row.string("hash") else {
                    return (expected - 1, ChainBreak(sequence: sequence, id: id, problem: "content does not match its hash"))
                }
                previous = row.string("hash") ?? ""
                expected += 1
            }
        }
    }
}

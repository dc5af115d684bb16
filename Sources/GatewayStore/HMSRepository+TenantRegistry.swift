import FHIRModels
import Foundation
import HMSMapping

/// The tenant registry: the tenants the gateway serves and their settings, changed by the admin
/// API and the CLI, read by every replica. Changes are serialised by one lock and numbered.
extension HMSRepository {
    public struct RegistryEntry: Sendable, Equatable {
        public let slug: String
        /// The tenant as ``GatewayConfig/TenantDocument`` JSON.
        public let document: String
        public let revision: Int64
        public let deleted: Bool
        /// SHA-256 of the configuration-file entry last applied to this tenant, if any.
        public let configurationDigest: String?
    }

    /// What an update writes; nil from the decision leaves the registry as it is.
    public struct RegistryUpdate: Sendable {
        public var document: String
        public var tier: String
        public var status: String
        public var deleted: Bool
        public var configurationDigest: String?
        /// Removes the tenant's own rows (lab results, audit trail) in the same transaction.
        public var purgeTenantID: String?
        /// The admin chain's record of the change, written in the same transaction.
        public var audit: AuditRecord

        public init(document: String, tier: String, status: String, deleted: Bool = false, configurationDigest: String?,
                    purgeTenantID: String? = nil, audit: AuditRecord) {
            self.document = document
            self.tier = tier
            self.status = status
            self.deleted = deleted
            self.configurationDigest = configurationDigest
            self.purgeTenantID = purgeTenantID
            self.audit = audit
        }
    }

    /// The audit chain of admin actions has this tenant id of its own (no HMS tenant has it).
    public static let adminChainTenantID = "00000000-0000-0000-0000-000000000000"
    static let registryLock = "gateway-tenant-registry"

    static let registryColumns = [
        HMSColumn("slug", .text), HMSColumn("document", .text), HMSColumn("revision", .integer), HMSColumn("deleted", .bool),
        HMSColumn("configuration_digest", .text),
    ]

    static func registryEntry(_ row: HMSRow) -> RegistryEntry? {
        guard let slug = row.string("slug"), let document = row.string("document"), let revision = row.integer("revision") else { return nil }
        return RegistryEntry(slug: slug, document: document, revision: revision, deleted: row.bool("deleted") ?? false,
                             configurationDigest: row.string("configuration_digest"))
    }

    /// Entries changed after `revision`, oldest change first (all of them from 0).
    public func registryEntries(after revision: Int64, limit: Int = 10_000) async throws -> [RegistryEntry] {
        let statement: SQLStatement = """
            SELECT slug, document, revision, deleted, configuration_digest FROM gateway_tenants
             WHERE revision > \(SQLBind.integer(revision)) ORDER BY revision LIMIT \(limit)
            """
        let rows = try await tracked { try await backend.query(statement, columns: Self.registryColumns, tenantID: nil) }
        return rows.compactMap(Self.registryEntry)
    }

    /// Every entry, deleted ones included, read in pages of changes.
    public func allRegistryEntries() async throws -> [RegistryEntry] {
        var entries: [RegistryEntry] = []
        var last: Int64 = 0
        while true {
            let page = try await registryEntries(after: last)
            entries += page
            guard let next = page.last?.revision, page.count == 10_000 else { return entries }
            last = next
        }
    }

    public func registryEntry(slug: String) async throws -> RegistryEntry? {
        let statement: SQLStatement = """
            SELECT slug, document, revision, deleted, configuration_digest FROM gateway_tenants WHERE slug = \(SQLBind.text(slug))
            """
        return try await tracked { try await backend.query(statement, columns: Self.registryColumns, tenantID: nil) }
            .first.flatMap(Self.registryEntry)
    }

    /// Changes one tenant's entry under the registry lock: `decide` sees the current entry and
    /// returns what to write, or nil to leave it. Returns the entry as it is afterwards.
    public func updateRegistry(slug: String, now: Date = Date(),
                               _ decide: @escaping @Sendable (RegistryEntry?) throws -> RegistryUpdate?) async throws -> RegistryEntry? {
        try await tracked {
            try await backend.withWriteTransaction(tenantID: Self.adminChainTenantID, lockKeys: [Self.registryLock]) { transaction in
                let current = try await transaction.query(
                    "SELECT slug, document, revision, deleted, configuration_digest FROM gateway_tenants WHERE slug = \(SQLBind.text(slug))",
                    columns: Self.registryColumns).first.flatMap(Self.registryEntry)
                guard let update = try decide(current) else { return current }
                let next = (try await transaction.query("SELECT COALESCE(MAX(revision), 0) + 1 AS next FROM gateway_tenants",
                                                        columns: [HMSColumn("next", .integer)]).first?.integer("next")) ?? 1
                let updatedAt = CivilTime.isoInstant(epochSeconds: Int64(now.timeIntervalSince1970))
                try await transaction.execute("""
                    INSERT INTO gateway_tenants (slug, document, tier, status, revision, deleted, configuration_digest, updated_at)
                    VALUES (\(SQLBind.text(slug)), \(SQLBind.text(update.document)), \(SQLBind.text(update.tier)), \(SQLBind.text(update.status)),
                            \(SQLBind.integer(next)), \(SQLBind.bool(update.deleted)),
                            \(update.configurationDigest.map(SQLBind.text) ?? .null), \(SQLBind.timestamp(updatedAt)))
                    ON CONFLICT (slug) DO UPDATE SET document = excluded.document, tier = excluded.tier, status = excluded.status,
                      revision = excluded.revision, deleted = excluded.deleted,
                      configuration_digest = excluded.configuration_digest, updated_at = excluded.updated_at
                    """)
                if let tenantID = update.purgeTenantID {
                    try await transaction.setTenant(tenantID)
                    try await transaction.purgeTenant(tenantID)
                    try await transaction.setTenant(Self.adminChainTenantID)
                }
                try await Self.enqueueAudit([update.audit], transaction: transaction)
                return RegistryEntry(slug: slug, document: update.document, revision: next, deleted: update.deleted,
                                     configurationDigest: update.configurationDigest)
            }
        }
    }

    /// Writes configuration-file tenants whose entry differs from what was last applied (by
    /// `configurationDigest`), all in one transaction under the registry lock: 10,000 tenants
    /// cost one commit, and an unchanged file costs one read. Returns how many were written.
    public func applyConfigurationEntries(_ updates: [String: RegistryUpdate], now: Date = Date()) async throws -> Int {
        guard !updates.isEmpty else { return 0 }
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: Self.adminChainTenantID, lockKeys: [Self.registryLock]) { transaction in
                var applied: [String: String?] = [:]
                let slugs = updates.keys.sorted()
                for start in stride(from: 0, to: slugs.count, by: Self.idsPerStatement) {
                    var list: SQLStatement = ""
                    for (index, slug) in slugs[start..<min(start + Self.idsPerStatement, slugs.count)].enumerated() {
                        list.append(index == 0 ? "?" : ", ?", [.text(slug)])
                    }
                    let rows = try await transaction.query("SELECT slug, configuration_digest FROM gateway_tenants WHERE slug IN (\(list))",
                                                           columns: [HMSColumn("slug", .text), HMSColumn("configuration_digest", .text)])
                    for row in rows { if let slug = row.string("slug") { applied[slug] = row.string("configuration_digest") } }
                }
                let changed = slugs.filter { slug in applied[slug].map { $0 != updates[slug]?.configurationDigest } ?? true }
                guard !changed.isEmpty else { return 0 }
                var next = (try await transaction.query("SELECT COALESCE(MAX(revision), 0) + 1 AS next FROM gateway_tenants",
                                                        columns: [HMSColumn("next", .integer)]).first?.integer("next")) ?? 1
                let updatedAt = SQLBind.timestamp(CivilTime.isoInstant(epochSeconds: Int64(now.timeIntervalSince1970)))
                for start in stride(from: 0, to: changed.count, by: 500) {
                    var insert: SQLStatement = "INSERT INTO gateway_tenants (slug, document, tier, status, revision, deleted, configuration_digest, updated_at) VALUES "
                    for (index, slug) in changed[start..<min(start + 500, changed.count)].enumerated() {
                        guard let update = updates[slug] else { continue }
                        insert.append(index == 0 ? "(?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?)",
                                      [.text(slug), .text(update.document), .text(update.tier), .text(update.status), .integer(next),
                                       .bool(false), update.configurationDigest.map(SQLBind.text) ?? .null, updatedAt])
                        next += 1
                    }
                    insert.append("""
                         ON CONFLICT (slug) DO UPDATE SET document = excluded.document, tier = excluded.tier, status = excluded.status,
                          revision = excluded.revision, deleted = excluded.deleted, configuration_digest = excluded.configuration_digest,
                          updated_at = excluded.updated_at
                        """)
                    try await transaction.execute(insert)
                }
                try await Self.enqueueAudit(changed.compactMap { updates[$0]?.audit }, transaction: transaction)
                return changed.count
            }
        }
    }

    /// The configuration-file digest last applied to each tenant that has one.
    public func configurationDigests() async throws -> [String: String] {
        let statement: SQLStatement = "SELECT slug, configuration_digest FROM gateway_tenants WHERE configuration_digest IS NOT NULL"
        let rows = try await tracked {
            try await backend.query(statement, columns: [HMSColumn("slug", .text), HMSColumn("configuration_digest", .text)], tenantID: nil)
        }
        var digests: [String: String] = [:]
        for row in rows { if let slug = row.string("slug"), let digest = row.string("configuration_digest") { digests[slug] = digest } }
        return digests
    }

    /// Live (not deleted) entries in slug order after `slug`, optionally of one tier and status.
    public func registryPage(after slug: String?, tier: String?, status: String?, limit: Int) async throws -> [RegistryEntry] {
        var statement: SQLStatement = """
            SELECT slug, document, revision, deleted, configuration_digest FROM gateway_tenants WHERE deleted = \(SQLBind.bool(false))
            """
        if let slug { statement.append(" AND slug > ?", [.text(slug)]) }
        if let tier { statement.append(" AND tier = ?", [.text(tier)]) }
        if let status { statement.append(" AND status = ?", [.text(status)]) }
        statement.append(" ORDER BY slug LIMIT \(limit)")
        return try await tracked { try await backend.query(statement, columns: Self.registryColumns, tenantID: nil) }.compactMap(Self.registryEntry)
    }

    /// Chains the admin actions recorded so far (before the admin trail is read or verified).
    public func sealAdminAudit() async throws { try await sealAudit(tenantID: Self.adminChainTenantID) }

    /// HMS tenant ids of `slugs` (the HMS's own tenants table).
    public func hmsTenantIDs(slugs: [String]) async throws -> [String: String] {
        var found: [String: String] = [:]
        for start in stride(from: 0, to: slugs.count, by: Self.idsPerStatement) {
            var list: SQLStatement = ""
            for (index, slug) in slugs[start..<min(start + Self.idsPerStatement, slugs.count)].enumerated() {
                list.append(index == 0 ? "?" : ", ?", [.text(slug)])
            }
            let statement: SQLStatement = "SELECT id, slug FROM tenants WHERE slug IN (\(list))"
            let rows = try await tracked {
                try await backend.query(statement, columns: [HMSColumn("id", .uuid), HMSColumn("slug", .text)], tenantID: nil)
            }
            for row in rows { if let slug = row.string("slug"), let id = row.string("id") { found[slug] = id } }
        }
        return found
    }

    /// Rows the gateway itself holds for the tenant: stored lab resources and audit records.
    public func gatewayRowCounts(tenantID: String) async throws -> (storedResources: Int64, auditRecords: Int64) {
        let tenant = SQLBind.uuid(tenantID)
        let statement: SQLStatement = """
            SELECT (SELECT COUNT(*) FROM stored_resources WHERE tenant_id = \(tenant)) AS stored,
                   (SELECT COUNT(*) FROM audit_events WHERE tenant_id = \(tenant)) + (SELECT COUNT(*) FROM audit_pending WHERE tenant_id = \(tenant)) AS audit
            """
        let row = try await tracked {
            try await backend.query(statement, columns: [HMSColumn("stored", .integer), HMSColumn("audit", .integer)], tenantID: tenantID)
        }.first
        return (row?.integer("stored") ?? 0, row?.integer("audit") ?? 0)
    }

    /// The tenant's hospitals: id and code (the hospital claim names them by either).
    public func hospitals(tenantID: String) async throws -> [(id: String, code: String)] {
        let statement: SQLStatement = "SELECT id, code FROM hospitals WHERE tenant_id = \(SQLBind.uuid(tenantID))"
        let rows = try await tracked {
            try await backend.query(statement, columns: [HMSColumn("id", .uuid), HMSColumn("code", .text)], tenantID: tenantID)
        }
        return rows.compactMap { row in row.string("id").map { ($0, row.string("code") ?? "") } }
    }

    /// Removes every row the gateway holds for the tenant in this store, in one transaction.
    public func purgeTenantRows(tenantID: String) async throws {
        try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: ["audit|\(tenantID)"]) { transaction in
                try await transaction.purgeTenant(tenantID)
            }
        }
    }

    /// Current stored lab resources of the tenant (the storage quota counts these).
    public func storedResourceCount(tenantID: String) async throws -> Int64 {
        let statement: SQLStatement = "SELECT COUNT(*) AS stored FROM stored_resources WHERE tenant_id = \(SQLBind.uuid(tenantID))"
        return try await tracked {
            try await backend.query(statement, columns: [HMSColumn("stored", .integer)], tenantID: tenantID)
        }.first?.integer("stored") ?? 0
    }
}

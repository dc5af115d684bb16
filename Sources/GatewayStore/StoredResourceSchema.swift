import HMSMapping

/// Gateway-owned tables for resources that partners post (lab Observations and DiagnosticReports):
/// the current version with search columns extracted at write time, every version as received,
/// and the multi-valued token and reference index.
enum StoredResourceSchema {
    static func statements(_ dialect: HMSSchema.Dialect) -> [String] {
        let uuid = HMSSchema.typeName(.uuid, dialect)
        let time = HMSSchema.typeName(.timestamp, dialect)
        let number = dialect == .postgres ? "numeric" : "REAL"
        return [
            """
            CREATE TABLE IF NOT EXISTS stored_resources (
              tenant_id \(uuid) NOT NULL,
              resource_type TEXT NOT NULL,
              id \(uuid) NOT NULL,
              version_id INTEGER NOT NULL,
              last_updated \(time) NOT NULL,
              body TEXT NOT NULL,
              patient_id \(uuid),
              status TEXT,
              effective_start \(time),
              effective_end \(time),
              value_quantity \(number),
              value_system TEXT,
              value_code TEXT,
              PRIMARY KEY (tenant_id, resource_type, id)
            )
            """,
            "CREATE INDEX IF NOT EXISTS stored_resources_patient_idx ON stored_resources (tenant_id, resource_type, patient_id, effective_start)",
            "CREATE INDEX IF NOT EXISTS stored_resources_updated_idx ON stored_resources (tenant_id, resource_type, last_updated)",
            """
            CREATE TABLE IF NOT EXISTS stored_resource_versions (
              tenant_id \(uuid) NOT NULL,
              resource_type TEXT NOT NULL,
              id \(uuid) NOT NULL,
              version_id INTEGER NOT NULL,
              last_updated \(time) NOT NULL,
              body TEXT NOT NULL,
              PRIMARY KEY (tenant_id, resource_type, id, version_id)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS stored_resource_tokens (
              tenant_id \(uuid) NOT NULL,
              resource_type TEXT NOT NULL,
              id \(uuid) NOT NULL,
              parameter TEXT NOT NULL,
              system TEXT NOT NULL,
              code TEXT NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS stored_resource_tokens_lookup_idx ON stored_resource_tokens (tenant_id, resource_type, parameter, code, system)",
            "CREATE INDEX IF NOT EXISTS stored_resource_tokens_owner_idx ON stored_resource_tokens (tenant_id, resource_type, id)",
        ]
    }

    static let tables = ["stored_resources", "stored_resource_versions", "stored_resource_tokens"]

    /// Each stored version names the hospital of its subject patient, or of its encounter when it
    /// names one (schema version 10), so a hospital-confined token sees its hospitals' results only.
    /// Rows stored before have none, and are visible tenant-wide only.
    static func hospitalStatements(_ dialect: HMSSchema.Dialect) -> [String] {
        let uuid = HMSSchema.typeName(.uuid, dialect)
        return [
            "ALTER TABLE stored_resources ADD COLUMN hospital_id \(uuid)",
            "ALTER TABLE stored_resource_versions ADD COLUMN hospital_id \(uuid)",
            "CREATE INDEX IF NOT EXISTS stored_resources_hospital_idx ON stored_resources (tenant_id, resource_type, hospital_id)",
        ]
    }

    /// Row-level security like the HMS tables; the gateway role may write these tables
    /// (never delete versions), always inside its tenant.
    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        var statements = tables.flatMap(HMSSchema.tenantIsolation)
        let role = "\"\(gatewayRole)\""
        statements += [
            "GRANT SELECT, INSERT, UPDATE ON stored_resources TO \(role)",
            "GRANT SELECT, INSERT ON stored_resource_versions TO \(role)",
            "GRANT SELECT, INSERT, DELETE ON stored_resource_tokens TO \(role)",
        ]
        return statements
    }
}

/// Schema versions, applied in order by `migrate()` on both stores.
enum Migrations {
    static func steps(_ dialect: HMSSchema.Dialect, gatewayRole: String?) -> [(version: Int, statements: [String])] {
        let postgres = dialect == .postgres
        let role = gatewayRole ?? ""
        return [
            (1, (postgres ? HMSSchema.postgresPrelude : []) + HMSSchema.createStatements(dialect)
                + (postgres ? HMSSchema.postgresSecurityStatements(gatewayRole: role) : [])),
            (2, StoredResourceSchema.statements(dialect) + (postgres ? StoredResourceSchema.postgresSecurityStatements(gatewayRole: role) : [])),
            (3, AuditSchema.statements(dialect) + (postgres ? AuditSchema.postgresSecurityStatements(gatewayRole: role) : AuditSchema.sqliteTriggers)),
            (4, AuditSchema.hashSchemeStatements),
            (5, AuditSchema.pendingStatements(dialect) + (postgres ? AuditSchema.postgresPendingSecurityStatements(gatewayRole: role) : [])),
            (6, HMSSchema.foldedColumnStatements(dialect)),
            (7, HMSSchema.sortIndexStatements),
            (8, postgres ? AuditSchema.postgresEnqueueStatements : []),
            (9, TenantRegistrySchema.statements(dialect) + (postgres ? TenantRegistrySchema.postgresSecurityStatements(gatewayRole: role) : [])),
            (10, StoredResourceSchema.hospitalStatements(dialect)),
            (11, postgres ? AuditSchema.postgresBatchEnqueueStatements : []),
            (12, ClientAssertionSchema.statements(dialect) + (postgres ? ClientAssertionSchema.postgresSecurityStatements(gatewayRole: role) : [])),
            (13, ExportJobSchema.statements(dialect) + (postgres ? ExportJobSchema.postgresSecurityStatements(gatewayRole: role) : [])),
        ]
    }
}

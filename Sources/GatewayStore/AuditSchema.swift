import HMSMapping

/// The per-tenant, append-only, hash-chained audit trail.
enum AuditSchema {
    static func statements(_ dialect: HMSSchema.Dialect) -> [String] {
        let uuid = HMSSchema.typeName(.uuid, dialect)
        let time = HMSSchema.typeName(.timestamp, dialect)
        let integer = dialect == .postgres ? "bigint" : "INTEGER"
        return [
            """
            CREATE TABLE IF NOT EXISTS audit_events (
              tenant_id \(uuid) NOT NULL,
              sequence \(integer) NOT NULL,
              id \(uuid) NOT NULL,
              recorded \(time) NOT NULL,
              action TEXT NOT NULL,
              subtype TEXT NOT NULL,
              outcome TEXT NOT NULL,
              agent TEXT,
              patients TEXT NOT NULL,
              body TEXT NOT NULL,
              previous_hash TEXT NOT NULL,
              hash TEXT NOT NULL,
              PRIMARY KEY (tenant_id, sequence)
            )
            """,
            "CREATE INDEX IF NOT EXISTS audit_events_recorded_idx ON audit_events (tenant_id, recorded)",
        ]
    }

    /// Which chain hash a record carries: 1 covers the body only (records written before version 4),
    /// 2 covers every column. Existing rows keep 1.
    static let hashSchemeStatements = ["ALTER TABLE audit_events ADD COLUMN hash_scheme INTEGER NOT NULL DEFAULT 1"]

    /// The gateway role may insert and read audit rows of its tenant, never update, delete or truncate them.
    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        HMSSchema.tenantIsolation("audit_events") + [
            "REVOKE ALL ON audit_events FROM \"\(gatewayRole)\"",
            "GRANT SELECT, INSERT ON audit_events TO \"\(gatewayRole)\"",
        ]
    }

    /// SQLite has no roles: triggers refuse updates and deletes of audit rows.
    static let sqliteTriggers = [
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    ]
}

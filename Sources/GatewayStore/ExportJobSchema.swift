import HMSMapping

/// Bulk Data export jobs (schema version 13).
///
/// - `gateway_export_jobs`: one row per job, under row-level security like every tenant table
///   (its request names patients). Times are epoch milliseconds.
/// - `gateway_export_queue`: what any replica may claim (`FOR UPDATE SKIP LOCKED`): job and tenant
///   ids, state and lease only, so it needs no tenant setting to scan.
/// - `gateway_export_keys`: each tenant's file data keys, wrapped by the key-encryption key.
enum ExportJobSchema {
    static func statements(_ dialect: HMSSchema.Dialect) -> [String] {
        let postgres = dialect == .postgres
        let uuid = HMSSchema.typeName(.uuid, dialect)
        let big = postgres ? "bigint" : "INTEGER"
        return [
            """
            CREATE TABLE IF NOT EXISTS gateway_export_jobs (
              id \(uuid) NOT NULL,
              tenant_id \(uuid) NOT NULL,
              client_id TEXT NOT NULL,
              subject TEXT NOT NULL,
              status TEXT NOT NULL,
              request TEXT NOT NULL,
              parameters TEXT NOT NULL,
              transaction_time \(big) NOT NULL,
              progress TEXT,
              manifest TEXT,
              failure TEXT,
              exported \(big) NOT NULL,
              created_at \(big) NOT NULL,
              updated_at \(big) NOT NULL,
              expires_at \(big),
              last_poll_at \(big),
              PRIMARY KEY (tenant_id, id)
            )
            """,
            "CREATE INDEX IF NOT EXISTS gateway_export_jobs_owner_idx ON gateway_export_jobs (tenant_id, client_id, subject, status)",
            """
            CREATE TABLE IF NOT EXISTS gateway_export_queue (
              job_id \(uuid) PRIMARY KEY,
              tenant_id \(uuid) NOT NULL,
              state TEXT NOT NULL,
              lease_owner TEXT,
              lease_until \(big) NOT NULL,
              expires_at \(big),
              created_at \(big) NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS gateway_export_queue_state_idx ON gateway_export_queue (state, lease_until, created_at)",
            """
            CREATE TABLE IF NOT EXISTS gateway_export_keys (
              tenant_id \(uuid) NOT NULL,
              key_id TEXT NOT NULL,
              wrapped TEXT NOT NULL,
              created_at \(big) NOT NULL,
              PRIMARY KEY (tenant_id, key_id)
            )
            """,
        ]
    }

    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        let role = "\"\(gatewayRole)\""
        return HMSSchema.tenantIsolation("gateway_export_jobs") + HMSSchema.tenantIsolation("gateway_export_keys") + [
            "GRANT SELECT, INSERT, UPDATE, DELETE ON gateway_export_jobs TO \(role)",
            "GRANT SELECT, INSERT ON gateway_export_keys TO \(role)",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON gateway_export_queue TO \(role)",
            // A purged tenant's export jobs and keys go with its other rows.
            TenantRegistrySchema.purgeFunction(tables: TenantRegistrySchema.tenantTables),
        ]
    }
}

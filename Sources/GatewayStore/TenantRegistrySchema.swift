import HMSMapping

/// The tenant registry (schema version 9): one row per tenant the gateway serves, holding the
/// tenant's document (the admin API's JSON). No PHI, so no row-level security; every change
/// takes the next `revision`, which replicas poll for.
enum TenantRegistrySchema {
    static func statements(_ dialect: HMSSchema.Dialect) -> [String] {
        let postgres = dialect == .postgres
        return [
            """
            CREATE TABLE IF NOT EXISTS gateway_tenants (
              slug TEXT PRIMARY KEY,
              document TEXT NOT NULL,
              tier TEXT NOT NULL,
              status TEXT NOT NULL,
              revision \(postgres ? "bigint" : "INTEGER") NOT NULL,
              deleted \(postgres ? "boolean" : "INTEGER") NOT NULL,
              configuration_digest TEXT,
              updated_at \(HMSSchema.typeName(.timestamp, dialect)) NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS gateway_tenants_revision_idx ON gateway_tenants (revision)",
            "CREATE INDEX IF NOT EXISTS gateway_tenants_tier_status_idx ON gateway_tenants (tier, status, slug)",
        ]
    }

    /// The gateway role keeps the registry (the admin API runs in the gateway), and may remove a
    /// tenant's own rows only through `gw_purge_tenant`, inside that tenant's setting.
    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        let role = "\"\(gatewayRole)\""
        return [
            "GRANT SELECT, INSERT, UPDATE ON gateway_tenants TO \(role)",
            purgeFunction(tables: ["stored_resource_tokens", "stored_resource_versions", "stored_resources", "audit_pending", "audit_events"]),
            "REVOKE ALL ON FUNCTION gw_purge_tenant(uuid) FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION gw_purge_tenant(uuid) TO \(role)",
        ]
    }

    /// `gw_purge_tenant`, removing the tenant's rows of `tables` in that order (schema 9, and again
    /// in 13 with the export tables).
    static func purgeFunction(tables: [String]) -> String {
        let deletes = tables.map { "DELETE FROM \($0) WHERE tenant_id = p_tenant; GET DIAGNOSTICS n = ROW_COUNT; removed := removed + n;" }
        return """
            CREATE OR REPLACE FUNCTION gw_purge_tenant(p_tenant uuid) RETURNS bigint
              LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
              AS $$
              DECLARE
                removed bigint := 0;
                n bigint;
              BEGIN
                IF p_tenant IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN
                  RAISE EXCEPTION 'gw_purge_tenant: not the transaction''s tenant';
                END IF;
                \(deletes.joined(separator: "\n    "))
                RETURN removed;
              END
              $$
            """
    }

    /// The gateway's own rows of a tenant, in the order a purge removes them.
    static let tenantTables = ["stored_resource_tokens", "stored_resource_versions", "stored_resources", "audit_pending", "audit_events",
                               "gateway_export_jobs", "gateway_export_keys", "gateway_export_queue", "gateway_client_assertions"]
}

/// The `jti` of every client assertion the token endpoint accepted (schema version 12), kept until
/// the assertion expires, so that no replica accepts the same assertion twice.
enum ClientAssertionSchema {
    static func statements(_ dialect: HMSSchema.Dialect) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS gateway_client_assertions (
              tenant_id \(HMSSchema.typeName(.uuid, dialect)) NOT NULL,
              client_id TEXT NOT NULL,
              jti TEXT NOT NULL,
              expires_at \(dialect == .postgres ? "bigint" : "INTEGER") NOT NULL,
              PRIMARY KEY (tenant_id, client_id, jti)
            )
            """,
            "CREATE INDEX IF NOT EXISTS gateway_client_assertions_expiry_idx ON gateway_client_assertions (tenant_id, expires_at)",
        ]
    }

    /// Row-level security like every tenant table; the gateway role reads, adds and purges.
    static func postgresSecurityStatements(gatewayRole: String) -> [String] {
        HMSSchema.tenantIsolation("gateway_client_assertions")
            + ["GRANT SELECT, INSERT, DELETE ON gateway_client_assertions TO \"\(gatewayRole)\""]
    }
}

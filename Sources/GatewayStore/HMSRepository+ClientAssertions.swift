import HMSMapping

/// Replay protection for SMART Backend Services: each accepted client assertion's `jti`, per
/// tenant and client, in the shared store that every replica uses.
extension HMSRepository {
    /// Records `jti` for the client unless it is already recorded; false means a replay. Rows whose
    /// assertions expired before `now` are purged first, in the same transaction.
    public func rememberAssertion(tenantID: String, clientID: String, jti: String, until expiry: Int64, now: Int64) async throws -> Bool {
        try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: ["assertions|\(tenantID)"]) { transaction in
                try await transaction.execute("""
                    DELETE FROM gateway_client_assertions WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND expires_at < \(SQLBind.integer(now))
                    """)
                let inserted = try await transaction.query("""
                    INSERT INTO gateway_client_assertions (tenant_id, client_id, jti, expires_at)
                    VALUES (\(SQLBind.uuid(tenantID)), \(SQLBind.text(clientID)), \(SQLBind.text(jti)), \(SQLBind.integer(expiry)))
                    ON CONFLICT (tenant_id, client_id, jti) DO NOTHING RETURNING jti
                    """, columns: [HMSColumn("jti", .text)])
                return !inserted.isEmpty
            }
        }
    }
}

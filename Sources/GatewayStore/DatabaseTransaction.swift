import HMSMapping

/// Statements run inside one write transaction, already scoped to a tenant.
protocol DatabaseTransaction: Sendable {
    func query(_ statement: SQLStatement, columns: [HMSColumn]) async throws -> [HMSRow]
    func execute(_ statement: SQLStatement) async throws
    /// Switches the transaction's tenant (PostgreSQL: `app.tenant_id`, transaction-local).
    func setTenant(_ tenantID: String) async throws
    /// Takes a lock held until the transaction ends (PostgreSQL advisory lock; SQLite has one writer).
    func lock(_ key: String) async throws
    /// Moves the tenant's waiting audit records named in `seals` into the chain, in one step.
    func sealAudit(tenantID: String, seals: [AuditSeal]) async throws
    /// Removes every row the gateway holds for the tenant (the transaction's tenant), audit trail included.
    func purgeTenant(_ tenantID: String) async throws
}

/// Where one waiting audit record goes in its tenant's chain.
struct AuditSeal: Sendable {
    let arrival: Int64
    let sequence: Int64
    let previous: String
    let hash: String
}

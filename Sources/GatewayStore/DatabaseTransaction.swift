import HMSMapping

/// Statements run inside one write transaction, already scoped to a tenant.
protocol DatabaseTransaction: Sendable {
    func query(_ statement: SQLStatement, columns: [HMSColumn]) async throws -> [HMSRow]
    func execute(_ statement: SQLStatement) async throws
}

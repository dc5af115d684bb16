import FHIRModels
import FHIRSearch
import GatewayAuth
import HMSMapping

/// Writes and history of posted resources (lab Observations and DiagnosticReports), always inside
/// the caller's tenant, each in one transaction: nothing partial is ever stored.
extension HMSRepository {
    /// A version to store: the exact JSON to keep, with `id` and `meta` already set by the gateway.
    public struct StoredVersion: Sendable {
        public var resourceType: String
        public var id: String
        public var versionID: Int
        public var lastUpdated: Int64
        public var body: String
        public var index: SearchIndex

        public init(resourceType: String, id: String, versionID: Int, lastUpdated: Int64, body: String, index: SearchIndex) {
            self.resourceType = resourceType
            self.id = id
            self.versionID = versionID
            self.lastUpdated = lastUpdated
            self.body = body
            self.index = index
        }
    }

    public enum CreateOutcome: Sendable {
        case created
        /// `If-None-Exist` matched exactly one resource: nothing was created.
        case existing(HMSRow)
        /// `If-None-Exist` matched several resources.
        case ambiguous(Int)
    }

    public enum UpdateOutcome: Sendable {
        case updated
        case notFound
        /// `If-Match` named another version than the current one.
        case versionConflict(current: Int)
    }

    /// The writes of one request (or one transaction Bundle) inside a single database transaction.
    public struct StoredTransaction: Sendable {
        let transaction: any DatabaseTransaction
        let scope: TenantScope

        /// Up to two resources matching `request` (conditional create), seen from inside the transaction.
        public func matches(_ request: SearchRequest) async throws -> [HMSRow] {
            guard let table = HMSResourceTable.for(request.resourceType), table.storage == .stored else { return [] }
            var request = request
            request.count = 2
            request.sort = []
            return try await transaction.query(HMSQueryBuilder(table: table, scope: scope).search(request, after: nil, limit: 2), columns: table.columns)
        }

        /// The same transaction seen through a narrower scope of the same tenant (one Bundle entry's grant).
        public func confined(to other: TenantScope) throws -> StoredTransaction {
            guard other.tenantID == scope.tenantID else { throw ScopeMismatch() }
            return StoredTransaction(transaction: transaction, scope: other)
        }

        struct ScopeMismatch: Error {}

        /// The current row of a stored resource, if this scope sees it.
        public func current(_ resourceType: String, id: String) async throws -> HMSRow? {
            guard let table = HMSResourceTable.for(resourceType), table.storage == .stored,
                  let read = HMSQueryBuilder(table: table, scope: scope).read(id: id) else { return nil }
            return try await transaction.query(read, columns: table.columns).first
        }

        /// The current version number of a stored resource of the tenant, if this scope sees it.
        public func currentVersion(_ resourceType: String, id: String) async throws -> Int? {
            try await current(resourceType, id: id)?.integer("version_id").map(Int.init)
        }

        /// Stores audit records of this transaction's tenant in the same commit as its writes; they
        /// are chained after the commit.
        public func appendAudit(_ records: [AuditRecord]) async throws {
            guard records.allSatisfy({ $0.tenantID == scope.tenantID }) else { throw ScopeMismatch() }
            try await HMSRepository.enqueueAudit(records, transaction: transaction)
        }

        public func insert(_ version: StoredVersion) async throws {
            try await HMSRepository.writeCurrent(version, replacing: false, transaction: transaction, scope: scope)
        }

        /// Replaces the current version; `ifMatch` nil means "the version just before `version`".
        public func update(_ version: StoredVersion, ifMatch: Int?) async throws -> UpdateOutcome {
            guard let table = HMSResourceTable.for(version.resourceType), table.storage == .stored,
                  let read = HMSQueryBuilder(table: table, scope: scope).read(id: version.id),
                  let current = try await transaction.query(read, columns: table.columns).first,
                  let currentVersion = current.integer("version_id").map(Int.init) else { return .notFound }
            if let ifMatch, ifMatch != currentVersion { return .versionConflict(current: currentVersion) }
            guard version.versionID == currentVersion + 1 else { return .versionConflict(current: currentVersion) }
            try await transaction.execute(SQLStatement("DELETE FROM stored_resource_tokens WHERE tenant_id = ? AND resource_type = ? AND id = ?",
                                                       [.uuid(scope.tenantID), .text(version.resourceType), .uuid(version.id)]))
            try await HMSRepository.writeCurrent(version, replacing: true, transaction: transaction, scope: scope)
            return .updated
        }
    }

    /// The lock that serialises conditional creates with the same criteria in a tenant.
    public static func conditionalLockKey(_ request: SearchRequest, scope: TenantScope) -> String {
        "\(scope.tenantID)|\(request.resourceType)|" + request.appliedParameters.filter { $0.0 != "_count" }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Runs `body` in one write transaction of the tenant; an error rolls everything back.
    public func withStoredTransaction<T: Sendable>(scope: TenantScope, lockKeys: [String],
                                                   _ body: @Sendable (StoredTransaction) async throws -> T) async throws -> T {
        beginCall()
        defer { endCall() }
        let result = try await backend.withWriteTransaction(tenantID: scope.tenantID, lockKeys: lockKeys) { transaction in
            try await body(StoredTransaction(transaction: transaction, scope: scope))
        }
        sealer.schedule(scope.tenantID)
        return result
    }

    /// Creates `version`, or with `ifNoneExist` returns the single existing match instead. Creates
    /// with the same criteria are serialised, so concurrent retries create exactly one resource.
    public func create(_ version: StoredVersion, ifNoneExist: SearchRequest?, scope: TenantScope) async throws -> CreateOutcome {
        let keys = ifNoneExist.map { [Self.conditionalLockKey($0, scope: scope)] } ?? []
        return try await withStoredTransaction(scope: scope, lockKeys: keys) { transaction in
            if let ifNoneExist {
                let matches = try await transaction.matches(ifNoneExist)
                if matches.count == 1 { return .existing(matches[0]) }
                if matches.count > 1 { return .ambiguous(matches.count) }
            }
            try await transaction.insert(version)
            return .created
        }
    }

    /// Stores `version` as the next version of an existing resource.
    public func update(_ version: StoredVersion, ifMatch: Int?, scope: TenantScope) async throws -> UpdateOutcome {
        try await withStoredTransaction(scope: scope, lockKeys: ["\(scope.tenantID)|\(version.resourceType)/\(version.id)"]) { transaction in
            try await transaction.update(version, ifMatch: ifMatch)
        }
    }

    /// Writes the current row (insert, or update in place: the gateway role may not delete it),
    /// appends the version, and indexes its tokens.
    static func writeCurrent(_ version: StoredVersion, replacing: Bool, transaction: any DatabaseTransaction, scope: TenantScope) async throws {
        let index = version.index
        let updated = SQLBind.timestamp(CivilTime.isoInstant(epochSeconds: version.lastUpdated))
        // Both stores hold years 1 to 9999; an instant just outside (a zone offset at the edge) is clamped.
        func time(_ seconds: Int64?) -> SQLBind {
            seconds.map { .timestamp(CivilTime.isoInstant(epochSeconds: StorableTime.clamped($0))) } ?? .null
        }
        let values: [SQLBind] = [
            .integer(Int64(version.versionID)), updated, .text(version.body),
            index.patientID.flatMap(HMSIdentifier.normalizedUUID).map(SQLBind.uuid) ?? .null,
            index.status.map(SQLBind.text) ?? .null, time(index.effectiveStart), time(index.effectiveEnd),
            index.valueQuantity.map(SQLBind.decimal) ?? .null, index.valueSystem.map(SQLBind.text) ?? .null,
            index.valueCode.map(SQLBind.text) ?? .null,
        ]
        let key: [SQLBind] = [.uuid(scope.tenantID), .text(version.resourceType), .uuid(version.id)]
        let hospital = try await hospitalOf(index, transaction: transaction, tenantID: scope.tenantID).map(SQLBind.uuid) ?? .null
        if replacing {
            try await transaction.execute(SQLStatement(
                """
                UPDATE stored_resources SET version_id = ?, last_updated = ?, body = ?, patient_id = ?, status = ?, effective_start = ?,
                  effective_end = ?, value_quantity = ?, value_system = ?, value_code = ?, hospital_id = ? WHERE tenant_id = ? AND resource_type = ? AND id = ?
                """, values + [hospital] + key))
        } else {
            try await transaction.execute(SQLStatement(
                """
                INSERT INTO stored_resources (version_id, last_updated, body, patient_id, status, effective_start, effective_end,
                  value_quantity, value_system, value_code, hospital_id, tenant_id, resource_type, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, values + [hospital] + key))
        }
        try await transaction.execute(SQLStatement(
            "INSERT INTO stored_resource_versions (tenant_id, resource_type, id, version_id, last_updated, body, hospital_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [.uuid(scope.tenantID), .text(version.resourceType), .uuid(version.id), .integer(Int64(version.versionID)), updated, .text(version.body), hospital]))
        // One statement for all tokens; chunks keep it under both stores' bind-parameter limits.
        for start in stride(from: 0, to: index.tokens.count, by: tokensPerStatement) {
            var insert: SQLStatement = "INSERT INTO stored_resource_tokens (tenant_id, resource_type, id, parameter, system, code) VALUES "
            for (position, token) in index.tokens[start..<min(start + tokensPerStatement, index.tokens.count)].enumerated() {
                insert.append(position == 0 ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)",
                              [.uuid(scope.tenantID), .text(version.resourceType), .uuid(version.id), .text(token.parameter), .text(token.system), .text(token.code)])
            }
            try await transaction.execute(insert)
        }
    }

    static let tokensPerStatement = 1_000

    /// The hospital a posted resource belongs to: its encounter's when it names one the tenant has,
    /// else its subject patient's; nil when neither is known.
    static func hospitalOf(_ index: SearchIndex, transaction: any DatabaseTransaction, tenantID: String) async throws -> String? {
        let columns = [HMSColumn("hospital_id", .uuid)]
        if let reference = index.tokens.first(where: { $0.parameter == "encounter" })?.code,
           reference.hasPrefix("Encounter/"), let encounter = EncounterID.parse(String(reference.dropFirst("Encounter/".count))) {
            let table = encounter.kind == "apt" ? "appointments" : "admissions"
            let statement = SQLStatement("SELECT hospital_id FROM \(unsafeRaw: table) WHERE tenant_id = ? AND id = ?",
                                         [.uuid(tenantID), .uuid(encounter.uuid)])
            if let hospital = try await transaction.query(statement, columns: columns).first?.string("hospital_id") { return hospital }
        }
        guard let patient = index.patientID.flatMap(HMSIdentifier.normalizedUUID) else { return nil }
        let statement = SQLStatement("SELECT hospital_id FROM patients WHERE tenant_id = ? AND id = ?", [.uuid(tenantID), .uuid(patient)])
        return try await transaction.query(statement, columns: columns).first?.string("hospital_id")
    }

    /// Versions of a hospital-confined scope are those its hospitals hold.
    static func versionHospitals(_ scope: TenantScope) -> SQLStatement {
        guard let hospitals = scope.restriction.hospitals else { return SQLStatement() }
        return hospitals.isEmpty ? SQLStatement(" AND 1 = 0") : HMSQueryBuilder.hospitalCondition(column: "t.hospital_id", hospitals)
    }

    static let versionColumns = [HMSColumn("id", .uuid), HMSColumn("version_id", .integer), HMSColumn("last_updated", .timestamp), HMSColumn("body", .text)]

    /// Which versions a `_history` page asks for.
    public struct HistoryWindow: Sendable {
        /// Versions older than this one (the page cursor).
        public var before: Int?
        /// `_since`: versions stored at or after this instant.
        public var since: Int64?
        /// `_at`: versions current at some point in `[lower, upper)`.
        public var at: (lower: Int64, upper: Int64)?
        public var limit: Int

        public init(before: Int? = nil, since: Int64? = nil, at: (lower: Int64, upper: Int64)? = nil, limit: Int) {
            self.before = before
            self.since = since
            self.at = at
            self.limit = limit
        }
    }

    /// Versions of a stored resource in `window`, newest first (empty when the resource is not this
    /// scope's). Each version still has to pass ``StoredVersionAdmission`` before it is shown.
    public func history(_ resourceType: String, id: String, window: HistoryWindow, scope: TenantScope) async throws -> [HMSRow]? {
        guard let uuid = HMSIdentifier.normalizedUUID(id), try await read(resourceType, id: id, scope: scope) != nil else { return nil }
        var statement = SQLStatement("SELECT id, version_id, last_updated, body FROM stored_resource_versions t WHERE t.tenant_id = ? AND t.resource_type = ? AND t.id = ?",
                                     [.uuid(scope.tenantID), .text(resourceType), .uuid(uuid)])
        statement.append(Self.versionHospitals(scope))
        if let before = window.before { statement.append(" AND t.version_id < ?", .integer(Int64(before))) }
        if let since = window.since { statement.append(" AND t.last_updated >= ?", .timestamp(CivilTime.isoInstant(epochSeconds: StorableTime.clamped(since)))) }
        if let at = window.at {
            // The version current at `lower` and every later one stored before `upper`.
            statement.append(" AND t.last_updated < ?", .timestamp(CivilTime.isoInstant(epochSeconds: StorableTime.clamped(at.upper))))
            statement.append(" AND t.version_id >= COALESCE((SELECT MAX(v.version_id) FROM stored_resource_versions v WHERE v.tenant_id = t.tenant_id AND v.resource_type = t.resource_type AND v.id = t.id AND v.last_updated <= ?), 0)",
                             .timestamp(CivilTime.isoInstant(epochSeconds: StorableTime.clamped(at.lower))))
        }
        statement.append(" ORDER BY t.version_id DESC LIMIT \(max(1, min(window.limit, 1000)))")
        return try await tracked { try await backend.query(statement, columns: Self.versionColumns, tenantID: scope.tenantID) }
    }

    /// One version of a stored resource.
    public func version(_ resourceType: String, id: String, versionID: Int, scope: TenantScope) async throws -> HMSRow? {
        guard let uuid = HMSIdentifier.normalizedUUID(id), try await read(resourceType, id: id, scope: scope) != nil else { return nil }
        var statement = SQLStatement(
            "SELECT id, version_id, last_updated, body FROM stored_resource_versions t WHERE t.tenant_id = ? AND t.resource_type = ? AND t.id = ? AND t.version_id = ?",
            [.uuid(scope.tenantID), .text(resourceType), .uuid(uuid), .integer(Int64(versionID))])
        statement.append(Self.versionHospitals(scope))
        return try await tracked { try await backend.query(statement, columns: Self.versionColumns, tenantID: scope.tenantID) }.first
    }
}

import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import HMSMapping

/// Bulk Data export jobs: created at kick-off, claimed by any replica, checkpointed as they run,
/// read back by their owner only. Every statement on a job names its tenant; the owner's reads also
/// name the client and subject, so another client's job id is simply not found.
extension HMSRepository {
    public struct ExportJob: Sendable {
        public let id: String
        public let tenantID: String
        public let clientID: String
        public let subject: String
        public let status: String
        /// The kick-off URL as the client sent it.
        public let request: String
        /// The job's parameters and grant (JSON, made and read by the gateway).
        public let parameters: String
        public let transactionTime: Int64
        public let progress: String?
        public let manifest: String?
        public let failure: String?
        public let exported: Int64
        public let expiresAt: Int64?
        public let lastPollAt: Int64?
        /// Epoch milliseconds of the kick-off.
        public let createdAt: Int64
    }

    public struct NewExportJob: Sendable {
        public var id: String
        public var clientID: String
        public var subject: String
        public var request: String
        public var parameters: String
        public var transactionTime: Int64

        public init(id: String, clientID: String, subject: String, request: String, parameters: String, transactionTime: Int64) {
            self.id = id
            self.clientID = clientID
            self.subject = subject
            self.request = request
            self.parameters = parameters
            self.transactionTime = transactionTime
        }
    }

    public enum ExportAdmission: Sendable, Equatable {
        case created
        /// Over a cap: the text says which.
        case refused(String)
    }

    public enum ExportPoll: Sendable {
        case job(ExportJob)
        /// Polled sooner than `Retry-After` allowed; seconds left.
        case tooSoon(Int64, ExportJob)
        case notFound
    }

    static let exportJobColumns = [
        HMSColumn("id", .uuid), HMSColumn("tenant_id", .uuid), HMSColumn("client_id", .text), HMSColumn("subject", .text),
        HMSColumn("status", .text), HMSColumn("request", .text), HMSColumn("parameters", .text), HMSColumn("transaction_time", .integer),
        HMSColumn("progress", .text), HMSColumn("manifest", .text), HMSColumn("failure", .text), HMSColumn("exported", .integer),
        HMSColumn("expires_at", .integer), HMSColumn("last_poll_at", .integer), HMSColumn("created_at", .integer),
    ]
    static let exportJobSelect = "SELECT id, tenant_id, client_id, subject, status, request, parameters, transaction_time, progress, manifest, failure, exported, expires_at, last_poll_at, created_at FROM gateway_export_jobs"

    static func exportJob(_ row: HMSRow) -> ExportJob? {
        guard let id = row.string("id"), let tenantID = row.string("tenant_id"), let clientID = row.string("client_id"),
              let subject = row.string("subject"), let status = row.string("status"), let request = row.string("request"),
              let parameters = row.string("parameters"), let transactionTime = row.integer("transaction_time") else { return nil }
        return ExportJob(id: id, tenantID: tenantID, clientID: clientID, subject: subject, status: status, request: request,
                         parameters: parameters, transactionTime: transactionTime, progress: row.string("progress"),
                         manifest: row.string("manifest"), failure: row.string("failure"), exported: row.integer("exported") ?? 0,
                         expiresAt: row.integer("expires_at"), lastPollAt: row.integer("last_poll_at"), createdAt: row.integer("created_at") ?? 0)
    }

    /// Job states that count against the caps and that a replica may run.
    public static let activeExportStates = ["queued", "running"]

    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Creates the job unless the tenant or the client is at its cap of active jobs; checked and
    /// inserted under the tenant's export lock, so concurrent kick-offs cannot both slip under it.
    public func createExportJob(_ job: NewExportJob, scope: TenantScope, tenantCap: Int, clientCap: Int) async throws -> ExportAdmission {
        let tenant = SQLBind.uuid(scope.tenantID)
        let now = Self.nowMilliseconds()
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: scope.tenantID, lockKeys: ["export|\(scope.tenantID)"]) { transaction in
                let counts = try await transaction.query("""
                    SELECT COUNT(*) AS tenant_jobs,
                           COALESCE(SUM(CASE WHEN client_id = \(SQLBind.text(job.clientID)) THEN 1 ELSE 0 END), 0) AS client_jobs
                      FROM gateway_export_jobs WHERE tenant_id = \(tenant) AND status IN ('queued', 'running')
                    """, columns: [HMSColumn("tenant_jobs", .integer), HMSColumn("client_jobs", .integer)]).first
                if let count = counts?.integer("tenant_jobs"), count >= tenantCap {
                    return .refused("the tenant has \(count) exports queued or running, its limit")
                }
                if let count = counts?.integer("client_jobs"), count >= clientCap {
                    return .refused("this client has \(count) exports queued or running, its limit")
                }
                try await transaction.execute("""
                    INSERT INTO gateway_export_jobs (id, tenant_id, client_id, subject, status, request, parameters, transaction_time,
                                                     exported, created_at, updated_at)
                    VALUES (\(SQLBind.uuid(job.id)), \(tenant), \(SQLBind.text(job.clientID)), \(SQLBind.text(job.subject)), 'queued',
                            \(SQLBind.text(job.request)), \(SQLBind.text(job.parameters)), \(SQLBind.integer(job.transactionTime)), 0,
                            \(SQLBind.integer(now)), \(SQLBind.integer(now)))
                    """)
                try await transaction.execute("""
                    INSERT INTO gateway_export_queue (job_id, tenant_id, state, lease_until, created_at)
                    VALUES (\(SQLBind.uuid(job.id)), \(tenant), 'queued', 0, \(SQLBind.integer(now)))
                    """)
                return .created
            }
        }
    }

    /// The owner's job; nil for a job of another tenant, client or subject, or a cancelled one.
    public func exportJob(id: String, scope: TenantScope, clientID: String, subject: String) async throws -> ExportJob? {
        guard let uuid = HMSIdentifier.normalizedUUID(id) else { return nil }
        let statement: SQLStatement = """
            \(unsafeRaw: Self.exportJobSelect) WHERE tenant_id = \(SQLBind.uuid(scope.tenantID)) AND id = \(SQLBind.uuid(uuid))
               AND client_id = \(SQLBind.text(clientID)) AND subject = \(SQLBind.text(subject)) AND status <> 'cancelled'
            """
        return try await tracked { try await backend.query(statement, columns: Self.exportJobColumns, tenantID: scope.tenantID) }
            .first.flatMap(Self.exportJob)
    }

    /// A status poll: refused when sooner than `interval` seconds after the owner's previous poll,
    /// otherwise noted as the latest poll.
    public func pollExportJob(id: String, scope: TenantScope, clientID: String, subject: String, interval: Int64) async throws -> ExportPoll {
        guard let uuid = HMSIdentifier.normalizedUUID(id) else { return .notFound }
        let now = Self.nowMilliseconds()
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: scope.tenantID, lockKeys: []) { transaction in
                let rows = try await transaction.query("""
                    \(unsafeRaw: Self.exportJobSelect) WHERE tenant_id = \(SQLBind.uuid(scope.tenantID)) AND id = \(SQLBind.uuid(uuid))
                       AND client_id = \(SQLBind.text(clientID)) AND subject = \(SQLBind.text(subject)) AND status <> 'cancelled'
                    """, columns: Self.exportJobColumns)
                guard let job = rows.first.flatMap(Self.exportJob) else { return .notFound }
                if let last = job.lastPollAt, now - last < interval * 1000, Self.activeExportStates.contains(job.status) {
                    return .tooSoon(max(1, (last + interval * 1000 - now + 999) / 1000), job)
                }
                try await transaction.execute("""
                    UPDATE gateway_export_jobs SET last_poll_at = \(SQLBind.integer(now))
                     WHERE tenant_id = \(SQLBind.uuid(scope.tenantID)) AND id = \(SQLBind.uuid(uuid))
                    """)
                return .job(job)
            }
        }
    }

    /// Cancels (or, once complete, deletes) the owner's job; false when there is none.
    public func cancelExportJob(id: String, scope: TenantScope, clientID: String, subject: String) async throws -> Bool {
        guard let uuid = HMSIdentifier.normalizedUUID(id) else { return false }
        let now = Self.nowMilliseconds()
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: scope.tenantID, lockKeys: []) { transaction in
                let rows = try await transaction.query("""
                    UPDATE gateway_export_jobs SET status = 'cancelled', updated_at = \(SQLBind.integer(now)), expires_at = \(SQLBind.integer(now))
                     WHERE tenant_id = \(SQLBind.uuid(scope.tenantID)) AND id = \(SQLBind.uuid(uuid)) AND client_id = \(SQLBind.text(clientID))
                       AND subject = \(SQLBind.text(subject)) AND status <> 'cancelled'
                    RETURNING id
                    """, columns: [HMSColumn("id", .uuid)])
                guard !rows.isEmpty else { return false }
                try await transaction.execute("""
                    UPDATE gateway_export_queue SET state = 'cancelled', expires_at = \(SQLBind.integer(now)) WHERE job_id = \(SQLBind.uuid(uuid))
                    """)
                return true
            }
        }
    }

    // MARK: Running jobs

    /// Claims the oldest job that is queued, or running under a lease that ran out (its replica
    /// stopped): any number of replicas may call this at once, each gets a different job.
    public func claimExportJob(owner: String, leaseSeconds: Int) async throws -> (jobID: String, tenantID: String)? {
        let now = Self.nowMilliseconds()
        let skipLocked = kind == "postgres" ? " FOR UPDATE SKIP LOCKED" : ""
        let statement: SQLStatement = """
            UPDATE gateway_export_queue SET state = 'running', lease_owner = \(SQLBind.text(owner)),
                   lease_until = \(SQLBind.integer(now + Int64(leaseSeconds) * 1000))
             WHERE job_id = (SELECT job_id FROM gateway_export_queue
                              WHERE state IN ('queued', 'running') AND lease_until < \(SQLBind.integer(now))
                              ORDER BY created_at LIMIT 1\(unsafeRaw: skipLocked))
            RETURNING job_id, tenant_id
            """
        let rows = try await tracked {
            try await backend.withWriteTransaction(tenantID: Self.adminChainTenantID, lockKeys: []) { transaction in
                try await transaction.query(statement, columns: [HMSColumn("job_id", .uuid), HMSColumn("tenant_id", .uuid)])
            }
        }
        guard let row = rows.first, let job = row.string("job_id"), let tenant = row.string("tenant_id") else { return nil }
        return (job, tenant)
    }

    /// The job as its runner reads it (no owner check: the runner acts for the owner).
    public func exportJobForRunner(id: String, tenantID: String) async throws -> ExportJob? {
        let statement: SQLStatement = "\(unsafeRaw: Self.exportJobSelect) WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND id = \(SQLBind.uuid(id))"
        return try await tracked { try await backend.query(statement, columns: Self.exportJobColumns, tenantID: tenantID) }.first.flatMap(Self.exportJob)
    }

    /// Records a checkpoint and renews the lease, only while `owner` still holds the job and it is
    /// not cancelled; false means stop (another replica took over, or the owner cancelled).
    public func checkpointExportJob(id: String, tenantID: String, owner: String, leaseSeconds: Int, progress: String,
                                    exported: Int64) async throws -> Bool {
        let now = Self.nowMilliseconds()
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: []) { transaction in
                let held = try await transaction.query("""
                    UPDATE gateway_export_queue SET lease_until = \(SQLBind.integer(now + Int64(leaseSeconds) * 1000))
                     WHERE job_id = \(SQLBind.uuid(id)) AND lease_owner = \(SQLBind.text(owner)) AND state = 'running'
                    RETURNING job_id
                    """, columns: [HMSColumn("job_id", .uuid)])
                guard !held.isEmpty else { return false }
                try await transaction.execute("""
                    UPDATE gateway_export_jobs SET status = 'running', progress = \(SQLBind.text(progress)), exported = \(SQLBind.integer(exported)),
                           updated_at = \(SQLBind.integer(now))
                     WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND id = \(SQLBind.uuid(id)) AND status IN ('queued', 'running')
                    """)
                return true
            }
        }
    }

    /// Ends the job (`completed` with its manifest, or `failed` with a reason), if `owner` still holds it.
    public func finishExportJob(id: String, tenantID: String, owner: String, status: String, progress: String?, manifest: String?,
                                failure: String?, exported: Int64, expiresAt: Int64) async throws -> Bool {
        let now = Self.nowMilliseconds()
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: []) { transaction in
                let held = try await transaction.query("""
                    UPDATE gateway_export_queue SET state = \(SQLBind.text(status)), expires_at = \(SQLBind.integer(expiresAt))
                     WHERE job_id = \(SQLBind.uuid(id)) AND lease_owner = \(SQLBind.text(owner)) AND state = 'running'
                    RETURNING job_id
                    """, columns: [HMSColumn("job_id", .uuid)])
                guard !held.isEmpty else { return false }
                try await transaction.execute("""
                    UPDATE gateway_export_jobs SET status = \(SQLBind.text(status)), progress = \(progress.map(SQLBind.text) ?? .null),
                           manifest = \(manifest.map(SQLBind.text) ?? .null), failure = \(failure.map(SQLBind.text) ?? .null),
                           exported = \(SQLBind.integer(exported)), updated_at = \(SQLBind.integer(now)), expires_at = \(SQLBind.integer(expiresAt))
                     WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND id = \(SQLBind.uuid(id)) AND status IN ('queued', 'running')
                    """)
                return true
            }
        }
    }

    /// Extends the lease while `owner` holds the job and it runs; false when it does not any more.
    public func renewExportLease(id: String, owner: String, leaseSeconds: Int) async throws -> Bool {
        let until = Self.nowMilliseconds() + Int64(leaseSeconds) * 1000
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: Self.adminChainTenantID, lockKeys: []) { transaction in
                try await !transaction.query("""
                    UPDATE gateway_export_queue SET lease_until = \(SQLBind.integer(until))
                     WHERE job_id = \(SQLBind.uuid(id)) AND lease_owner = \(SQLBind.text(owner)) AND state = 'running'
                    RETURNING job_id
                    """, columns: [HMSColumn("job_id", .uuid)]).isEmpty
            }
        }
    }

    /// Leaves the job for `seconds` (this replica cannot run it yet), then to whichever replica claims it.
    public func postponeExportJob(id: String, owner: String, seconds: Int) async throws {
        let until = Self.nowMilliseconds() + Int64(seconds) * 1000
        try await tracked {
            try await backend.withWriteTransaction(tenantID: Self.adminChainTenantID, lockKeys: []) { transaction in
                try await transaction.execute("""
                    UPDATE gateway_export_queue SET lease_until = \(SQLBind.integer(until))
                     WHERE job_id = \(SQLBind.uuid(id)) AND lease_owner = \(SQLBind.text(owner)) AND state = 'running'
                    """)
            }
        }
    }

    /// Gives the job up at once (a replica shutting down), so another replica resumes it without waiting for the lease.
    public func releaseExportJob(id: String, owner: String) async throws {
        try await tracked {
            try await backend.withWriteTransaction(tenantID: Self.adminChainTenantID, lockKeys: []) { transaction in
                try await transaction.execute("""
                    UPDATE gateway_export_queue SET lease_until = 0 WHERE job_id = \(SQLBind.uuid(id)) AND lease_owner = \(SQLBind.text(owner))
                    """)
            }
        }
    }

    /// Jobs whose files have expired (or were cancelled): their files go, then their rows.
    public func expiredExportJobs(limit: Int = 100) async throws -> [(jobID: String, tenantID: String)] {
        let statement: SQLStatement = """
            SELECT job_id, tenant_id FROM gateway_export_queue
             WHERE state IN ('completed', 'failed', 'cancelled') AND expires_at < \(SQLBind.integer(Self.nowMilliseconds()))
             ORDER BY expires_at LIMIT \(limit)
            """
        let rows = try await tracked { try await backend.query(statement, columns: [HMSColumn("job_id", .uuid), HMSColumn("tenant_id", .uuid)], tenantID: nil) }
        return rows.compactMap { row in row.string("job_id").flatMap { job in row.string("tenant_id").map { (job, $0) } } }
    }

    public func removeExportJob(id: String, tenantID: String) async throws {
        try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: []) { transaction in
                try await transaction.execute("DELETE FROM gateway_export_jobs WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND id = \(SQLBind.uuid(id))")
                try await transaction.execute("DELETE FROM gateway_export_queue WHERE job_id = \(SQLBind.uuid(id))")
            }
        }
    }

    // MARK: Data keys

    /// The tenant's wrapped data key, made by `make` (and stored) when it has none yet.
    public func exportDataKey(tenantID: String, make: @Sendable () throws -> (keyID: String, wrapped: String)) async throws -> (keyID: String, wrapped: String) {
        let columns = [HMSColumn("key_id", .text), HMSColumn("wrapped", .text)]
        let select: SQLStatement = "SELECT key_id, wrapped FROM gateway_export_keys WHERE tenant_id = \(SQLBind.uuid(tenantID)) ORDER BY created_at DESC LIMIT 1"
        if let row = try await tracked({ try await backend.query(select, columns: columns, tenantID: tenantID) }).first,
           let keyID = row.string("key_id"), let wrapped = row.string("wrapped") {
            return (keyID, wrapped)
        }
        return try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: ["export-key|\(tenantID)"]) { transaction in
                if let row = try await transaction.query(select, columns: columns).first, let keyID = row.string("key_id"), let wrapped = row.string("wrapped") {
                    return (keyID, wrapped)
                }
                let made = try make()
                try await transaction.execute("""
                    INSERT INTO gateway_export_keys (tenant_id, key_id, wrapped, created_at)
                    VALUES (\(SQLBind.uuid(tenantID)), \(SQLBind.text(made.keyID)), \(SQLBind.text(made.wrapped)), \(SQLBind.integer(Self.nowMilliseconds())))
                    """)
                return made
            }
        }
    }

    /// A wrapped data key by id (an older key still opens the files written under it).
    public func exportDataKey(tenantID: String, keyID: String) async throws -> String? {
        let statement: SQLStatement = "SELECT wrapped FROM gateway_export_keys WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND key_id = \(SQLBind.text(keyID))"
        return try await tracked { try await backend.query(statement, columns: [HMSColumn("wrapped", .text)], tenantID: tenantID) }.first?.string("wrapped")
    }
}

/// One snapshot of a tenant's data that an export run reads all its passes from (PostgreSQL: one
/// read-only repeatable-read transaction with a server-side cursor per pass; SQLite: key-ordered pages).
public struct ExportSnapshot: Sendable {
    let repository: HMSRepository
    let session: (any CursorSession)?

    /// Streams an export pass under `scope` (its tenant, compartment, granular filters and hospitals
    /// apply as to any search), in key order after `afterKey`, in batches of `batch` rows, until
    /// `body` returns false.
    public func rows(_ pass: ExportPass, filters: [SearchRequest], since: Int64?, before: Int64, patients: ExportPatients?,
                     afterKey: String?, batch: Int, scope: TenantScope, _ body: @Sendable ([HMSRow]) async throws -> Bool) async throws {
        guard let table = HMSResourceTable.for(pass.resourceType) else { return }
        let builder = HMSQueryBuilder(table: table, scope: scope)
        let columns = table.columns.contains(pass.key) ? table.columns : table.columns + [pass.key]
        if let session {
            let whole = builder.exportPage(pass, filters: filters, since: since, before: before, patients: patients, afterKey: afterKey, limit: nil)
            try await repository.tracked { try await session.stream(whole, columns: columns, batch: batch, body) }
            return
        }
        var after = afterKey
        while true {
            let page = builder.exportPage(pass, filters: filters, since: since, before: before, patients: patients, afterKey: after, limit: batch)
            let rows = try await repository.tracked { try await repository.backend.query(page, columns: columns, tenantID: scope.tenantID) }
            guard !rows.isEmpty, try await body(rows), rows.count == batch, let last = rows.last?.string(pass.key.name) else { return }
            after = last
        }
    }
}

extension HMSRepository {
    /// Runs `body` with one snapshot of `tenantID`'s data (see ``ExportSnapshot``).
    public func withExportSnapshot<T: Sendable>(tenantID: String, _ body: @Sendable (ExportSnapshot) async throws -> T) async throws -> T {
        try await backend.withReadSnapshot(tenantID: tenantID) { session in try await body(ExportSnapshot(repository: self, session: session)) }
    }

    /// Sets the instant a job reads as of, when its first run starts (fenced by the lease like a checkpoint).
    public func startExportJob(id: String, tenantID: String, owner: String, transactionTime: Int64) async throws -> Bool {
        try await tracked {
            try await backend.withWriteTransaction(tenantID: tenantID, lockKeys: []) { transaction in
                let held = try await transaction.query("""
                    SELECT job_id FROM gateway_export_queue WHERE job_id = \(SQLBind.uuid(id)) AND lease_owner = \(SQLBind.text(owner)) AND state = 'running'
                    """, columns: [HMSColumn("job_id", .uuid)])
                guard !held.isEmpty else { return false }
                try await transaction.execute("""
                    UPDATE gateway_export_jobs SET transaction_time = \(SQLBind.integer(transactionTime)), status = 'running'
                     WHERE tenant_id = \(SQLBind.uuid(tenantID)) AND id = \(SQLBind.uuid(id)) AND status IN ('queued', 'running')
                    """)
                return true
            }
        }
    }
}

import BulkExport
import Crypto
import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping
import Logging
import Synchronization

/// Runs one export job from where its last checkpoint left it, writing encrypted NDJSON files.
struct ExportJobRunner {
    let services: GatewayServices
    let vault: ExportVault
    let owner: String

    /// Rows fetched at once.
    static let pageSize = 1000
    /// A checkpoint (progress saved, lease renewed) at most this often while a pass runs.
    static let checkpointSeconds = 1.0

    enum Stop: Error { case leaseLost, postponed }

    struct Failure: Error { let reason: String }

    func run(jobID: String, tenantID: String, repository: HMSRepository) async {
        let logger = services.logger
        do {
            guard let job = try await repository.exportJobForRunner(id: jobID, tenantID: tenantID) else {
                // The tenant was purged: its queue entry goes too.
                try await repository.removeExportJob(id: jobID, tenantID: tenantID)
                return
            }
            // The lease is renewed on its own schedule too: a statement slower than the lease (the first fetch of a
            // very large type sorts it) must not let a second replica start writing the same files.
            let lease = LeaseHold()
            let heartbeat = Task { await keepLease(jobID: job.id, repository: repository, held: lease) }
            defer { heartbeat.cancel() }
            try await run(job, repository: repository, lease: lease)
        } catch Stop.leaseLost {
            logger.notice("export job stopped: cancelled or taken over", metadata: ["export.job": .string(jobID)])
        } catch Stop.postponed {
            logger.info("export job postponed: its tenant is not served here now", metadata: ["export.job": .string(jobID)])
        } catch let failure as Failure {
            await fail(jobID: jobID, tenantID: tenantID, repository: repository, reason: failure.reason)
        } catch where Task.isCancelled {
            // Shutting down (a database call may see the cancellation first): hand the job over now, not when the lease runs out.
            let owner = self.owner
            await Task.detached { try? await repository.releaseExportJob(id: jobID, owner: owner) }.value
            logger.notice("export job paused for shutdown; another replica resumes it", metadata: ["export.job": .string(jobID)])
        } catch {
            // A store outage or a storage error: the job stays claimed until its lease runs out, then any replica retries it.
            logger.error("export job interrupted", metadata: ["export.job": .string(jobID), "error": .string(String(describing: type(of: error)))])
        }
    }

    /// Renews the job's lease a few times per lease period until cancelled; clears `held` when the job
    /// was taken over or cancelled (the run then stops before writing more).
    private func keepLease(jobID: String, repository: HMSRepository, held: LeaseHold) async {
        let seconds = services.configuration.export.leaseSeconds
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(seconds * 1000 / 3))
            guard !Task.isCancelled else { return }
            if (try? await repository.renewExportLease(id: jobID, owner: owner, leaseSeconds: seconds)) == false {
                held.lose()
                return
            }
        }
    }

    private func fail(jobID: String, tenantID: String, repository: HMSRepository, reason: String) async {
        let expires = Int64(Date().timeIntervalSince1970 * 1000) + Int64(services.configuration.export.retentionHours) * 3_600_000
        _ = try? await repository.finishExportJob(id: jobID, tenantID: tenantID, owner: owner, status: "failed", progress: nil, manifest: nil,
                                                  failure: reason, exported: 0, expiresAt: expires)
        services.metrics.exportEnded(tenant: slug(ofTenant: tenantID), outcome: "failed")
        services.logger.warning("export job failed", metadata: ["export.job": .string(jobID), "reason": .string(reason)])
    }

    /// Whether this replica still holds the job's lease, as the heartbeat last found.
    final class LeaseHold: Sendable {
        private let held = Atomic<Bool>(true)
        var isHeld: Bool { held.load(ordering: .relaxed) }
        func lose() { held.store(false, ordering: .relaxed) }
    }

    /// What a run changes as it goes: the progress it checkpoints and the file it writes.
    final class RunState: @unchecked Sendable {
        var progress: ExportProgress
        var writer: EncryptedFileWriter?
        var lastCheckpoint = Date()
        let started = Date()
        let exportedAtStart: Int64
        /// Resources already counted in metrics (by this run).
        var counted: Int64

        init(progress: ExportProgress) {
            self.progress = progress
            exportedAtStart = progress.exported
            counted = progress.exported
        }
    }

    private func run(_ job: HMSRepository.ExportJob, repository: HMSRepository, lease: LeaseHold) async throws {
        guard let tenant = services.tenants.all.first(where: { $0.hmsTenantID == job.tenantID }),
              tenant.configuration.status == .active else {
            // A replica that has not yet read a new tenant from the registry, or a tenant suspended for now: the job waits.
            guard Int64(Date().timeIntervalSince1970 * 1000) - job.createdAt < Int64(services.configuration.export.retentionHours) * 3_600_000 else {
                throw Failure(reason: "the tenant has not been served since the export was started")
            }
            try await repository.postponeExportJob(id: job.id, owner: owner, seconds: 10)
            throw Stop.postponed
        }
        let parameters: ExportParameters
        do { parameters = try JSONDecoder().decode(ExportParameters.self, from: Data(job.parameters.utf8)) } catch {
            throw Failure(reason: "the job's parameters cannot be read")
        }
        let state = RunState(progress: try job.progress.map { try JSONDecoder().decode(ExportProgress.self, from: Data($0.utf8)) } ?? ExportProgress())
        let scope = TenantScope.resumed(parameters.grant)
        let policy = ScopePolicy(scope: scope.scope)
        let (keyID, key) = try await vault.currentKey(tenantID: job.tenantID, repository: repository)
        let passes = parameters.types.flatMap(ExportPass.passes)
        let patients: ExportPatients? = switch parameters.level {
        case .system: nil
        case .patient: parameters.patients.map(ExportPatients.ids)
        case .group(let hospital): parameters.patients.map { .hospitalPatients(hospital, $0) } ?? .hospital(hospital)
        }
        let pacing = services.configuration.export.resourcesPerSecond
        // Paced jobs read smaller batches, so the pace holds within a batch too (about two a second).
        let batch = pacing.map { min(Self.pageSize, max(1, $0 / 2)) } ?? Self.pageSize
        // A job's first run fixes the instant it reads as of: the last whole second before its snapshot is taken (what
        // was written in the current second may still be committing; the next export, `_since` this instant, has it).
        // A resumed run keeps it.
        var transactionTime = job.transactionTime
        if job.progress == nil {
            transactionTime = Int64(Date().timeIntervalSince1970) - 1
            guard try await repository.startExportJob(id: job.id, tenantID: job.tenantID, owner: owner, transactionTime: transactionTime) else {
                throw Stop.leaseLost
            }
        }
        let before = parameters.before(transactionTime: transactionTime)

        if state.progress.errors == nil, !parameters.ignored.isEmpty {
            let name = "OperationOutcome-1.ndjson"
            let writer = try openWriter(job, name: name, resume: nil, plaintextBytes: 0, key: key, keyID: keyID)
            for message in parameters.ignored {
                let outcome = OperationOutcome.resource([OutcomeIssue(severity: .warning, code: .notSupported, diagnostics: message)])
                try writer.append(outcome.serialized + [0x0A])
            }
            state.progress.errors = ExportProgress.File(name: name, type: "OperationOutcome", count: Int64(parameters.ignored.count),
                                                        checkpoint: try writer.finish(), plaintextBytes: writer.plaintextBytes, complete: true)
            try await checkpoint(job, state, repository: repository)
        }

        try await repository.withExportSnapshot(tenantID: job.tenantID) { snapshot in
        while state.progress.pass < passes.count {
            let pass = passes[state.progress.pass]
            let type = pass.resourceType
            // The same decision as a search by the starting token: its compartment and granular filters apply.
            guard let typeScope = try? ScopeAuthorization.scope(scope, policy: policy, access: .search, type: type, baseURL: tenant.baseURL) else {
                state.progress.pass += 1
                state.progress.afterKey = nil
                continue
            }
            var filters: [SearchRequest] = []
            for query in parameters.typeFilters[type] ?? [] {
                do { filters.append(try ExportParameters.searchRequest(type: type, query: query, baseURL: tenant.baseURL)) } catch {
                    throw Failure(reason: "a _typeFilter no longer parses")
                }
            }
            if let last = state.progress.files.last, !last.complete, last.type == type {
                state.writer = try openWriter(job, name: last.name, resume: last.checkpoint, plaintextBytes: last.plaintextBytes, key: key, keyID: keyID)
            }
            let elements = parameters.elements.map { ($0["*"] ?? []) + ($0[type] ?? []) }
            try await snapshot.rows(pass, filters: filters, since: parameters.since, before: before, patients: patients,
                                    afterKey: state.progress.afterKey, batch: batch, scope: typeScope) { rows in
                guard lease.isHeld else { throw Stop.leaseLost }
                if Task.isCancelled {
                    try await save(state)
                    try await checkpoint(job, state, repository: repository)
                    throw CancellationError()
                }
                try write(rows, pass: pass, job: job, tenant: tenant, elements: elements, state: state, key: key, keyID: keyID)
                if Date().timeIntervalSince(state.lastCheckpoint) >= Self.checkpointSeconds {
                    try await save(state)
                    try await checkpoint(job, state, repository: repository)
                }
                if let pacing {
                    let due = Double(state.progress.exported - state.exportedAtStart) / Double(pacing) - Date().timeIntervalSince(state.started)
                    if due > 0 { try? await Task.sleep(for: .milliseconds(Int(due * 1000))) }
                }
                return true
            }
            // The pass is done. Encounter's two passes share one file series: its file ends after the last.
            if let open = state.writer {
                if passIsLastOfType(passes, state.progress.pass) {
                    try finish(open, state)
                } else {
                    try await save(state)
                    open.abandon()
                }
                state.writer = nil
            }
            state.progress.pass += 1
            state.progress.afterKey = nil
            try await checkpoint(job, state, repository: repository)
        }
        }
        try await complete(job, transactionTime: transactionTime, tenant: tenant, parameters: parameters, progress: state.progress,
                           repository: repository, scope: scope)
    }

    /// Appends one batch to the type's current file (opening or splitting files as needed) and moves the key on.
    private func write(_ rows: [HMSRow], pass: ExportPass, job: HMSRepository.ExportJob, tenant: ResolvedTenant, elements: [String]?,
                       state: RunState, key: SymmetricKey, keyID: String) throws {
        let fileLimit = Int64(services.configuration.export.fileMegabytes) << 20
        var line = [UInt8]()
        line.reserveCapacity(4096)
        for row in rows {
            line.removeAll(keepingCapacity: true)
            guard appendLine(type: pass.resourceType, row: row, tenant: tenant, elements: elements, into: &line) else { continue }
            if state.writer == nil {
                let name = "\(pass.resourceType)-\(state.progress.files.filter { $0.type == pass.resourceType }.count + 1).ndjson"
                state.writer = try openWriter(job, name: name, resume: nil, plaintextBytes: 0, key: key, keyID: keyID)
                state.progress.files.append(ExportProgress.File(name: name, type: pass.resourceType, count: 0, checkpoint: .init(bytes: 0, records: 0),
                                                                plaintextBytes: 0, complete: false))
            }
            try state.writer?.append(line)
            state.progress.files[state.progress.files.count - 1].count += 1
            state.progress.exported += 1
            if let open = state.writer, open.plaintextBytes >= fileLimit {
                try finish(open, state)
                state.writer = nil
            }
        }
        if let last = rows.last {
            // Batches must move forward, or a job would write the same rows for ever.
            guard let next = last.string(pass.key.name), next != state.progress.afterKey else {
                throw Failure(reason: "the export could not page through \(pass.resourceType)")
            }
            state.progress.afterKey = next
        }
    }

    /// Saves progress and renews the lease; stops the run when the job was cancelled or taken over.
    private func checkpoint(_ job: HMSRepository.ExportJob, _ state: RunState, repository: HMSRepository) async throws {
        let text = String(decoding: try JSONEncoder().encode(state.progress), as: UTF8.self)
        guard try await repository.checkpointExportJob(id: job.id, tenantID: job.tenantID, owner: owner,
                                                       leaseSeconds: services.configuration.export.leaseSeconds,
                                                       progress: text, exported: state.progress.exported) else { throw Stop.leaseLost }
        state.lastCheckpoint = Date()
        if state.progress.exported > state.counted {
            services.metrics.exported(tenant: slug(ofTenant: job.tenantID), resources: state.progress.exported - state.counted)
            state.counted = state.progress.exported
        }
    }

    /// The tenant's slug for metrics (its HMS id when it is no longer served).
    private func slug(ofTenant tenantID: String) -> String {
        services.tenants.all.first { $0.hmsTenantID == tenantID }?.configuration.slug ?? tenantID
    }

    private func finish(_ writer: EncryptedFileWriter, _ state: RunState) throws {
        state.progress.files[state.progress.files.count - 1].checkpoint = try writer.finish()
        state.progress.files[state.progress.files.count - 1].plaintextBytes = writer.plaintextBytes
        state.progress.files[state.progress.files.count - 1].complete = true
    }

    /// Seals what the open file has pending and records its committed length.
    private func save(_ state: RunState) async throws {
        guard let writer = state.writer else { return }
        state.progress.files[state.progress.files.count - 1].checkpoint = try writer.checkpoint()
        state.progress.files[state.progress.files.count - 1].plaintextBytes = writer.plaintextBytes
    }

    /// Encounter is read in two passes that share one file series; the file ends after the last.
    private func passIsLastOfType(_ passes: [ExportPass], _ index: Int) -> Bool {
        index + 1 >= passes.count || passes[index + 1].resourceType != passes[index].resourceType
    }

    private func openWriter(_ job: HMSRepository.ExportJob, name: String, resume: EncryptedFileWriter.Checkpoint?, plaintextBytes: Int64,
                            key: SymmetricKey, keyID: String) throws -> EncryptedFileWriter {
        let path = ExportVault.path(tenantID: job.tenantID, jobID: job.id, file: name)
        return try EncryptedFileWriter(storage: vault.storage, name: path, fileID: path, key: key, keyID: keyID, resume: resume,
                                       plaintextBytes: plaintextBytes)
    }

    /// One NDJSON line for a row; false when the row cannot be rendered (then it is skipped).
    private func appendLine(type: String, row: HMSRow, tenant: ResolvedTenant, elements: [String]?, into bytes: inout [UInt8]) -> Bool {
        if elements == nil, TenantTypes.isStored(type), let body = HMSResourceMapper.storedBody(row) {
            // Kept as posted; line breaks between JSON tokens are whitespace (inside strings they are escaped), so they go.
            for byte in body.utf8 where byte != 0x0A && byte != 0x0D { bytes.append(byte) }
            bytes.append(0x0A)
            return true
        }
        guard var resource = ResourceRendering.resource(type, row: row, tenant: tenant) else { return false }
        if let elements { resource = SearchController.subset(resource, elements: elements) }
        resource.write(into: &bytes)
        bytes.append(0x0A)
        return true
    }

    private func complete(_ job: HMSRepository.ExportJob, transactionTime: Int64, tenant: ResolvedTenant, parameters: ExportParameters, progress: ExportProgress,
                          repository: HMSRepository, scope: TenantScope) async throws {
        let expires = Int64(Date().timeIntervalSince1970 * 1000) + Int64(services.configuration.export.retentionHours) * 3_600_000
        let manifest = ExportManifest.render(job: job, transactionTime: transactionTime, parameters: parameters, progress: progress,
                                             baseURL: tenant.baseURL)
        let text = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
        guard try await repository.finishExportJob(id: job.id, tenantID: job.tenantID, owner: owner, status: "completed", progress: text,
                                                   manifest: manifest.serializedString, failure: nil, exported: progress.exported,
                                                   expiresAt: expires) else { throw Stop.leaseLost }
        let subjects = AuditSubjects(baseURL: tenant.baseURL)
        subjects.noteExport(job: job.id, file: nil, count: progress.exported)
        let record = RequestRecord(requestID: job.id, method: "POST", tenant: tenant.configuration.slug, interaction: "export-complete",
                                   resourceType: nil, resultCount: nil, authFailure: nil, route: nil, traceID: nil, scope: scope)
        try? await tenant.audit.append(AuditEventBuilder.record(tenantID: job.tenantID, record: record, status: 200, scope: scope,
                                                                subjects: subjects, query: nil, address: nil))
        services.metrics.exportEnded(tenant: tenant.configuration.slug, outcome: "completed")
        services.logger.info("export job completed", metadata: ["export.job": .string(job.id), "tenant": .string(tenant.configuration.slug),
                                                                 "export.resources": .stringConvertible(progress.exported)])
    }
}

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

/// Runs one export job from where its last checkpoint left it, writing encrypted NDJSON files.
struct ExportJobRunner {
    let services: GatewayServices
    let vault: ExportVault
    let owner: String

    /// Rows read per statement.
    static let pageSize = 1000
    /// A checkpoint (progress saved, lease renewed) at most this often while a pass runs.
    static let checkpointSeconds = 1.0

    enum Stop: Error { case leaseLost, shutdown }

    struct Failure: Error { let reason: String }

    func run(jobID: String, tenantID: String, repository: HMSRepository) async {
        let logger = services.logger
        do {
            guard let job = try await repository.exportJobForRunner(id: jobID, tenantID: tenantID) else {
                // The tenant was purged: its queue entry goes too.
                try await repository.removeExportJob(id: jobID, tenantID: tenantID)
                return
            }
            try await run(job, repository: repository)
        } catch Stop.leaseLost {
            logger.notice("export job stopped: cancelled or taken over", metadata: ["export.job": .string(jobID)])
        } catch Stop.shutdown {
            try? await repository.releaseExportJob(id: jobID, owner: owner)
            logger.notice("export job paused for shutdown; another replica resumes it", metadata: ["export.job": .string(jobID)])
        } catch let failure as Failure {
            await fail(jobID: jobID, tenantID: tenantID, repository: repository, reason: failure.reason)
        } catch {
            // A store outage or a storage error: the job stays claimed until its lease runs out, then any replica retries it.
            logger.error("export job interrupted", metadata: ["export.job": .string(jobID), "error": .string(String(describing: type(of: error)))])
        }
    }

    private func fail(jobID: String, tenantID: String, repository: HMSRepository, reason: String) async {
        let expires = Int64(Date().timeIntervalSince1970 * 1000) + Int64(services.configuration.export.retentionHours) * 3_600_000
        _ = try? await repository.finishExportJob(id: jobID, tenantID: tenantID, owner: owner, status: "failed", progress: nil, manifest: nil,
                                                  failure: reason, exported: 0, expiresAt: expires)
        services.logger.warning("export job failed", metadata: ["export.job": .string(jobID), "reason": .string(reason)])
    }

    private func run(_ job: HMSRepository.ExportJob, repository: HMSRepository) async throws {
        guard let tenant = services.tenants.all.first(where: { $0.hmsTenantID == job.tenantID }),
              tenant.configuration.status == .active else { throw Failure(reason: "the tenant is not served now") }
        let parameters: ExportParameters
        do { parameters = try JSONDecoder().decode(ExportParameters.self, from: Data(job.parameters.utf8)) } catch {
            throw Failure(reason: "the job's parameters cannot be read")
        }
        var progress = try job.progress.map { try JSONDecoder().decode(ExportProgress.self, from: Data($0.utf8)) } ?? ExportProgress()
        let scope = TenantScope.resumed(parameters.grant)
        let policy = ScopePolicy(scope: scope.scope)
        let (keyID, key) = try await vault.currentKey(tenantID: job.tenantID, repository: repository)
        let passes = parameters.types.flatMap(ExportPass.passes)
        let fileLimit = Int64(services.configuration.export.fileMegabytes) << 20
        let patients: ExportPatients? = switch parameters.level {
        case .system: nil
        case .patient: parameters.patients.map(ExportPatients.ids)
        case .group(let hospital): parameters.patients.map(ExportPatients.ids) ?? .hospital(hospital)
        }
        let pacing = services.configuration.export.resourcesPerSecond
        // Paced jobs read smaller pages, so the pace holds within a page too (about two pages a second).
        let pageSize = pacing.map { min(Self.pageSize, max(1, $0 / 2)) } ?? Self.pageSize
        let started = Date()
        let exportedAtStart = progress.exported
        var lastCheckpoint = Date()

        func checkpoint() async throws {
            let text = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
            guard try await repository.checkpointExportJob(id: job.id, tenantID: job.tenantID, owner: owner,
                                                           leaseSeconds: services.configuration.export.leaseSeconds,
                                                           progress: text, exported: progress.exported) else { throw Stop.leaseLost }
            lastCheckpoint = Date()
        }

        if progress.errors == nil, !parameters.ignored.isEmpty {
            let name = "OperationOutcome-1.ndjson"
            let writer = try openWriter(job, name: name, resume: nil, plaintextBytes: 0, key: key, keyID: keyID)
            for message in parameters.ignored {
                let outcome = OperationOutcome.resource([OutcomeIssue(severity: .warning, code: .notSupported, diagnostics: message)])
                try writer.append(outcome.serialized + [0x0A])
            }
            progress.errors = ExportProgress.File(name: name, type: "OperationOutcome", count: Int64(parameters.ignored.count),
                                                  checkpoint: try writer.finish(), plaintextBytes: writer.plaintextBytes, complete: true)
            try await checkpoint()
        }

        while progress.pass < passes.count {
            let pass = passes[progress.pass]
            let type = pass.resourceType
            // The same decision as a search by the starting token: its compartment and granular filters apply.
            guard let typeScope = try? ScopeAuthorization.scope(scope, policy: policy, access: .search, type: type, baseURL: tenant.baseURL) else {
                progress.pass += 1
                progress.afterKey = nil
                continue
            }
            var filters: [SearchRequest] = []
            for query in parameters.typeFilters[type] ?? [] {
                do { filters.append(try ExportParameters.searchRequest(type: type, query: query, baseURL: tenant.baseURL)) } catch {
                    throw Failure(reason: "a _typeFilter no longer parses")
                }
            }
            var writer: EncryptedFileWriter?
            if let last = progress.files.last, !last.complete, last.type == type {
                writer = try openWriter(job, name: last.name, resume: last.checkpoint, plaintextBytes: last.plaintextBytes, key: key, keyID: keyID)
            }
            let elements = parameters.elements.map { ($0["*"] ?? []) + ($0[type] ?? []) }
            while true {
                if Task.isCancelled {
                    if let writer { try await save(writer, &progress); writer.abandon() }
                    try await checkpoint()
                    throw Stop.shutdown
                }
                let rows = try await repository.exportPage(pass, filters: filters, since: parameters.since, before: parameters.before,
                                                           patients: patients, afterKey: progress.afterKey, limit: pageSize, scope: typeScope)
                var lines = [UInt8]()
                lines.reserveCapacity(rows.count * 1024)
                for row in rows {
                    guard appendLine(type: type, row: row, tenant: tenant, elements: elements, into: &lines) else { continue }
                    if writer == nil {
                        let name = "\(type)-\(progress.files.filter { $0.type == type }.count + 1).ndjson"
                        writer = try openWriter(job, name: name, resume: nil, plaintextBytes: 0, key: key, keyID: keyID)
                        progress.files.append(ExportProgress.File(name: name, type: type, count: 0, checkpoint: .init(bytes: 0, records: 0),
                                                                  plaintextBytes: 0, complete: false))
                    }
                    try writer?.append(lines)
                    lines.removeAll(keepingCapacity: true)
                    progress.files[progress.files.count - 1].count += 1
                    progress.exported += 1
                    if let open = writer, open.plaintextBytes >= fileLimit {
                        progress.files[progress.files.count - 1].checkpoint = try open.finish()
                        progress.files[progress.files.count - 1].plaintextBytes = open.plaintextBytes
                        progress.files[progress.files.count - 1].complete = true
                        writer = nil
                    }
                }
                if let last = rows.last {
                    // Pages must move forward, or a job would write the same rows for ever.
                    guard let key = last.string(pass.key.name), key > (progress.afterKey ?? "") else {
                        throw Failure(reason: "the export could not page through \(type)")
                    }
                    progress.afterKey = key
                }
                let passDone = rows.count < pageSize
                if passDone {
                    if let open = writer, passIsLastOfType(passes, progress.pass) {
                        progress.files[progress.files.count - 1].checkpoint = try open.finish()
                        progress.files[progress.files.count - 1].plaintextBytes = open.plaintextBytes
                        progress.files[progress.files.count - 1].complete = true
                        writer = nil
                    } else if let open = writer {
                        try await save(open, &progress)
                        open.abandon()
                        writer = nil
                    }
                    progress.pass += 1
                    progress.afterKey = nil
                    try await checkpoint()
                    break
                }
                if Date().timeIntervalSince(lastCheckpoint) >= Self.checkpointSeconds {
                    if let open = writer { try await save(open, &progress) }
                    try await checkpoint()
                }
                if let pacing {
                    let due = Double(progress.exported - exportedAtStart) / Double(pacing) - Date().timeIntervalSince(started)
                    if due > 0 { try? await Task.sleep(for: .milliseconds(Int(due * 1000))) }
                }
            }
        }
        try await complete(job, tenant: tenant, parameters: parameters, progress: progress, repository: repository, scope: scope)
    }

    /// Seals what the open file has pending and records its committed length.
    private func save(_ writer: EncryptedFileWriter, _ progress: inout ExportProgress) async throws {
        progress.files[progress.files.count - 1].checkpoint = try writer.checkpoint()
        progress.files[progress.files.count - 1].plaintextBytes = writer.plaintextBytes
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

    private func complete(_ job: HMSRepository.ExportJob, tenant: ResolvedTenant, parameters: ExportParameters, progress: ExportProgress,
                          repository: HMSRepository, scope: TenantScope) async throws {
        let expires = Int64(Date().timeIntervalSince1970 * 1000) + Int64(services.configuration.export.retentionHours) * 3_600_000
        let manifest = ExportManifest.render(job: job, parameters: parameters, progress: progress, baseURL: tenant.baseURL)
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
        services.logger.info("export job completed", metadata: ["export.job": .string(job.id), "tenant": .string(tenant.configuration.slug),
                                                                 "export.resources": .stringConvertible(progress.exported)])
    }
}

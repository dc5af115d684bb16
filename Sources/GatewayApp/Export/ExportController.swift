import BulkExport
import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HMSMapping
import HTTPTypes
import Hummingbird

/// Bulk Data kick-off, status, cancel and download. A job belongs to its tenant and to the client
/// and subject of the token that started it: to anyone else its id is unknown (404).
struct ExportController {
    let services: GatewayServices
    let tenant: ResolvedTenant
    let scope: TenantScope
    let subjects: AuditSubjects
    let worker: ExportWorker

    private var settings: GatewayConfiguration.Export { services.configuration.export }

    /// The job owner: the token's client and subject.
    private func owner() throws(FHIRError) -> (client: String, subject: String) {
        let client = scope.clientID ?? "", subject = scope.subject ?? ""
        guard !client.isEmpty || !subject.isEmpty else {
            throw FHIRError.forbidden("an export needs a token that names its client (azp or client_id) or subject")
        }
        return (client, subject)
    }

    func kickOff(level: ExportParameters.Level, request: Request, query: [(String, String)]) async throws -> Response {
        let prefer = PreferHeader(request.headers[values: .prefer])
        guard prefer["respond-async"] != nil else {
            throw FHIRError.badRequest("$export runs asynchronously: send 'Prefer: respond-async'", code: .required, expression: ["Prefer"])
        }
        let (client, subject) = try owner()
        var pairs = query
        if request.method == .post { pairs += try await Self.bodyParameters(request) }
        var level = level
        if case .group(let id) = level {
            guard let hospital = try await groupHospital(id) else { throw FHIRError.notFound("Group/\(id.prefix(64)) is not known") }
            level = .group(hospital)
        }
        let now = Int64(Date().timeIntervalSince1970)
        let parameters = try ExportParameters.parse(level: level, pairs: pairs, servedTypes: tenant.configuration.resourceTypes,
                                                    baseURL: tenant.baseURL, scope: scope,
                                                    lenient: prefer["handling"] == "lenient", now: now)
        let jobID = UUID().uuidString.lowercased()
        let requestURL = services.configuration.server.publicBaseURL + request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        let job = HMSRepository.NewExportJob(id: jobID, clientID: client, subject: subject, request: requestURL,
                                             parameters: String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self),
                                             transactionTime: now - 1)  // replaced by the snapshot's instant when the job starts
        let rateFields = try LimitMiddleware.take(.export, tenant: tenant, services: services)
        let admission = try await tenant.repository.createExportJob(job, scope: scope, tenantCap: tenant.limits.exportJobs ?? 1,
                                                                    clientCap: tenant.limits.exportJobsPerClient ?? 1)
        if case .refused(let reason) = admission {
            throw FHIRError(status: 429, code: .throttled, "\(reason); retry when one finishes", headers: [("Retry-After", "30")])
        }
        subjects.noteExport(job: jobID, file: nil, count: nil)
        worker.wake()
        let outcome = OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational,
                                                              diagnostics: "export job \(jobID) accepted; poll the Content-Location")])
        return FHIRResponse.json(outcome, status: .accepted,
                                 headers: [("Content-Location", ExportManifest.statusURL(baseURL: tenant.baseURL, jobID: jobID))] + rateFields)
    }

    func status(job jobID: String) async throws -> Response {
        let (client, subject) = try owner()
        let poll = try await tenant.repository.pollExportJob(id: jobID, scope: scope, clientID: client, subject: subject,
                                                             interval: Int64(settings.pollSeconds))
        let retry = String(settings.pollSeconds)
        switch poll {
        case .notFound:
            throw FHIRError.notFound("no export job \(jobID.prefix(64))")
        case .tooSoon(let seconds, let job):
            subjects.noteExport(job: job.id, file: nil, count: nil)
            throw FHIRError(status: 429, code: .throttled, "polled sooner than Retry-After allows; wait \(seconds) s", headers: [("Retry-After", String(seconds))])
        case .job(let job):
            subjects.noteExport(job: job.id, file: nil, count: job.status == "completed" ? job.exported : nil)
            switch job.status {
            case "completed":
                guard let manifest = job.manifest, let json = try? JSONParser.parse(Array(manifest.utf8)) else {
                    throw FHIRError(status: 500, code: .exception, "the export's manifest cannot be read")
                }
                let expires = job.expiresAt.map { CivilTime.httpDate(epochSeconds: $0 / 1000) }
                return FHIRResponse.json(json, contentType: ContentNegotiation.plainJSON, headers: expires.map { [("Expires", $0)] } ?? [])
            case "failed":
                throw FHIRError(status: 500, code: .exception, "the export failed: \(job.failure ?? "unknown reason")")
            default:
                let progress = job.status == "queued" ? "queued" : "running: \(job.exported) resources written"
                let outcome = OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational, diagnostics: progress)])
                return FHIRResponse.json(outcome, status: .accepted, headers: [("X-Progress", progress), ("Retry-After", retry)])
            }
        }
    }

    func cancel(job jobID: String) async throws -> Response {
        let (client, subject) = try owner()
        guard try await tenant.repository.cancelExportJob(id: jobID, scope: scope, clientID: client, subject: subject) else {
            throw FHIRError.notFound("no export job \(jobID.prefix(64))")
        }
        subjects.noteExport(job: jobID, file: nil, count: nil)
        if let tenantID = tenant.hmsTenantID {
            // The runner stops at its next checkpoint; files are removed now and again by housekeeping.
            try? worker.vault.storage.remove(prefix: ExportVault.folder(tenantID: tenantID, jobID: jobID))
        }
        let outcome = OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational, diagnostics: "export job cancelled")])
        return FHIRResponse.json(outcome, status: .accepted)
    }

    func download(job jobID: String, file name: String, head: Bool) async throws -> Response {
        let (client, subject) = try owner()
        guard let job = try await tenant.repository.exportJob(id: jobID, scope: scope, clientID: client, subject: subject),
              job.status == "completed", let text = job.progress,
              let progress = try? JSONDecoder().decode(ExportProgress.self, from: Data(text.utf8)),
              let file = (progress.files + [progress.errors].compactMap { $0 }).first(where: { $0.name == name && $0.complete }) else {
            throw FHIRError.notFound("no export file \(name.prefix(64)) in job \(jobID.prefix(64))")
        }
        // Checked again now: the token downloading must still be allowed what the file holds, with the same confinement.
        if file.type != "OperationOutcome" {
            _ = try ScopeAuthorization.scope(scope, policy: ScopePolicy(scope: scope.scope), access: .search, type: file.type, baseURL: tenant.baseURL)
            let parameters = try JSONDecoder().decode(ExportParameters.self, from: Data(job.parameters.utf8))
            guard parameters.grant.patient == scope.patient, parameters.grant.hospitals == scope.grant.hospitals else {
                throw FHIRError.forbidden("this token's patient or hospital confinement differs from the token that started the export")
            }
        }
        subjects.noteExport(job: job.id, file: file.name, count: file.count)
        let reader = try await worker.vault.reader(tenantID: job.tenantID, jobID: job.id, file: file.name, repository: tenant.repository)
        var headers = HTTPFields()
        headers[.contentType] = "application/fhir+ndjson"
        guard !head else {
            reader.close()
            return Response(status: .ok, headers: headers)
        }
        let logger = services.logger
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            do {
                while let plain = try reader.next() {
                    if !plain.isEmpty { try await writer.write(ByteBuffer(bytes: plain)) }
                }
            } catch {
                reader.close()
                logger.error("export file unreadable", metadata: ["export.job": .string(jobID)])
                throw error
            }
            try await writer.finish(nil)
        })
    }

    /// The HMS hospital a Group id names (its Organization id), within the token's hospitals.
    private func groupHospital(_ id: String) async throws -> String? {
        guard let uuid = HMSIdentifier.normalizedUUID(id), let tenantID = tenant.hmsTenantID else { return nil }
        guard try await tenant.repository.hospitals(tenantID: tenantID).contains(where: { $0.id == uuid }) else { return nil }
        if let allowed = scope.restriction.hospitals, !allowed.contains(uuid) { return nil }
        return uuid
    }

    /// A POSTed `Parameters` resource as name-value pairs (references give their `reference`).
    static func bodyParameters(_ request: Request) async throws -> [(String, String)] {
        let (body, _) = try await ResourceBody.read(request)
        guard body["resourceType"]?.stringValue == "Parameters" else {
            throw FHIRError.badRequest("the $export body must be a Parameters resource", code: .structure, expression: ["resourceType"])
        }
        var pairs: [(String, String)] = []
        for (index, parameter) in (body["parameter"]?.arrayValue ?? []).enumerated() {
            guard case .object(let object) = parameter, let name = object["name"]?.stringValue else {
                throw FHIRError.badRequest("each parameter needs a name", code: .structure, expression: ["Parameters.parameter[\(index)]"])
            }
            let values = object.members.filter { $0.key.hasPrefix("value") }
            guard values.count == 1, let value = values.first else {
                throw FHIRError.badRequest("parameter '\(name.prefix(64))' needs exactly one value[x]", code: .structure,
                                           expression: ["Parameters.parameter[\(index)]"])
            }
            if value.key == "valueReference", let reference = value.value["reference"]?.stringValue {
                pairs.append((name, reference))
            } else if let text = value.value.stringValue {
                pairs.append((name, text))
            } else {
                throw FHIRError.badRequest("parameter '\(name.prefix(64))' has an unsupported value type", code: .structure,
                                           expression: ["Parameters.parameter[\(index)].\(value.key)"])
            }
        }
        return pairs
    }
}

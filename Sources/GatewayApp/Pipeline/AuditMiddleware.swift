import FHIRModels
import GatewayStore
import Hummingbird

/// Wraps every data interaction: its answer, success or refusal, gets its audit record before it is
/// sent, or is not sent at all (fail closed). Writes that stored something already committed their
/// records with the data; this layer records the rest (reads, searches, refusals, failures, entries
/// that wrote nothing).
struct AuditMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let tenant = context.tenant, let subjects = context.subjects else { return try await next(request, context) }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = FHIRResponse.error(.classify(error, logger: services.logger, requestID: context.state.snapshot.requestID))
        }
        // PHI is never cached by browsers or proxies (metadata and the SMART document are answered before this layer).
        response.headers[.cacheControl] = "no-store"
        guard let tenantID = tenant.hmsTenantID else { return response }
        let record = context.state.snapshot
        var records: [HMSRepository.AuditRecord] = []
        if !subjects.requestAudited {
            records.append(AuditEventBuilder.record(tenantID: tenantID, record: record, status: Int(response.status.code), scope: record.scope,
                                                    subjects: subjects, query: subjects.query ?? request.uri.query, address: context.address))
        }
        // Each transaction or batch entry is an interaction of its own; all records go in one commit.
        for entry in subjects.entries where !entry.audited {
            let entrySubjects = AuditSubjects(baseURL: tenant.baseURL)
            if let resource = entry.resource { entrySubjects.note(resource) }
            var entryRecord = record
            entryRecord.interaction = entry.interaction
            records.append(AuditEventBuilder.record(tenantID: tenantID, record: entryRecord, status: entry.status, scope: record.scope,
                                                    subjects: entrySubjects, query: nil, address: context.address))
        }
        guard !records.isEmpty else { return response }
        let writer = tenant.audit
        do {
            try await RequestTracing.span("audit.write", attributes: ["tenant": .string(tenant.configuration.slug), "audit.records": .int64(Int64(records.count))]) {
                if records.count == 1 {
                    try await writer.append(records[0])
                } else {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for item in records { group.addTask { try await writer.append(item) } }
                        try await group.waitForAll()
                    }
                }
            }
        } catch {
            services.metrics.auditWriteFailed(tenant: tenant.configuration.slug)
            services.logger.error("audit write failed", metadata: ["tenant": .string(tenant.configuration.slug), "request_id": .string(record.requestID)])
            return FHIRResponse.error(FHIRError(status: 503, code: .transient, "the request could not be audited, so it was not served; retry later"))
        }
        return response
    }
}

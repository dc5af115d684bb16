import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HTTPTypes
import Hummingbird

/// The request flow of DESIGN.md section 3, in order: route, tenant, public documents,
/// token and tenant claim, scopes, then the interaction's controller.
struct GatewayResponder: HTTPResponder {
    typealias Context = GatewayRequestContext
    let services: GatewayServices

    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    @Sendable func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        services.metrics.started()
        var record = RequestRecord(requestID: Self.requestID(request), method: request.method.rawValue)
        var response: Response
        do {
            response = try await dispatch(request, context: context, record: &record)
        } catch {
            response = FHIRResponse.error(.classify(error, logger: services.logger, requestID: record.requestID))
        }
        response.headers[Self.requestIDHeader] = record.requestID
        if request.method == .head { response = response.createHeadResponse() }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        record.log(to: services.logger, status: Int(response.status.code), durationMilliseconds: milliseconds)
        services.metrics.finished(record: record, status: Int(response.status.code), seconds: milliseconds / 1000)
        return response
    }

    /// Accepts a caller's request id if it is short and plain; otherwise makes one.
    static func requestID(_ request: Request) -> String {
        if let supplied = request.headers[requestIDHeader], (1...128).contains(supplied.utf8.count),
           supplied.utf8.allSatisfy(isRequestIDByte) {
            return supplied
        }
        return UUID().uuidString.lowercased()
    }

    private static func isRequestIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"): true
        default: false
        }
    }

    private func dispatch(_ request: Request, context: Context, record: inout RequestRecord) async throws -> Response {
        switch FHIRRoute.parse(path: request.uri.path) {
        case .health:
            return FHIRResponse.json(.object(["status": .string("ok")]), contentType: ContentNegotiation.plainJSON)
        case .ready:
            let reachable = await services.repository.isReachable()
            let status: HTTPResponse.Status = reachable ? .ok : .serviceUnavailable
            return FHIRResponse.json(.object(["status": .string(reachable ? "ready" : "database unreachable"),
                                              "tenants": .int(services.tenants.count)]), status: status, contentType: ContentNegotiation.plainJSON)
        case .metrics:
            return FHIRResponse.json(.null, contentType: "text/plain; version=0.0.4; charset=utf-8").withBody(services.metrics.render())
        case .developmentJWKS:
            guard let issuer = services.developmentIssuer else { throw FHIRError.notFound("the development issuer is not enabled") }
            return FHIRResponse.json(issuer.jwks, contentType: ContentNegotiation.plainJSON)
        case .malformed:
            throw FHIRError.badRequest("the path does not name a tenant: use /<tenant>/r4/<resource>")
        case .notFound:
            throw FHIRError.notFound("no FHIR endpoint at this path; use /<tenant>/r4/<resource>")
        case .tenant(let slug, let rest):
            guard let tenant = services.tenants[slug] else { throw FHIRError.notFound("unknown tenant") }
            record.tenant = slug
            let origin = request.headers[HTTPField.Name("Origin")!]
            if request.method == .options {
                record.interaction = "cors-preflight"
                return CORSPolicy.preflight(origin: origin, tenant: tenant.configuration)
            }
            let subjects = AuditSubjects(baseURL: tenant.baseURL)
            var response: Response
            do {
                response = try await tenantResponse(request, tenant: tenant, rest: rest, subjects: subjects, address: context.remoteAddress.flatMap(\.ipAddress),
                                                    record: &record)
            } catch {
                // Every answer on a data route is audited, failures included.
                response = FHIRResponse.error(.classify(error, logger: services.logger, requestID: record.requestID))
            }
            if let tenantID = tenant.hmsTenantID, Self.isAudited(record.interaction) {
                // Writes that stored something committed their records with the data; everything else is recorded here.
                var records: [HMSRepository.AuditRecord] = []
                if !subjects.requestAudited {
                    records.append(AuditEventBuilder.record(tenantID: tenantID, record: record, status: Int(response.status.code), scope: record.scope,
                                                            subjects: subjects, query: subjects.query ?? request.uri.query,
                                                            address: context.remoteAddress.flatMap(\.ipAddress)))
                }
                // Each transaction or batch entry is an interaction of its own; all records go in one commit.
                for entry in subjects.entries where !entry.audited {
                    let entrySubjects = AuditSubjects(baseURL: tenant.baseURL)
                    if let resource = entry.resource { entrySubjects.note(resource) }
                    var entryRecord = record
                    entryRecord.interaction = entry.interaction
                    records.append(AuditEventBuilder.record(tenantID: tenantID, record: entryRecord, status: entry.status, scope: record.scope,
                                                            subjects: entrySubjects, query: nil, address: context.remoteAddress.flatMap(\.ipAddress)))
                }
                let writer = services.audit
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for item in records { group.addTask { try await writer.append(item) } }
                        try await group.waitForAll()
                    }
                } catch {
                    // Fail closed: what cannot be audited is not served.
                    services.metrics.auditWriteFailed(tenant: tenant.configuration.slug)
                    services.logger.error("audit write failed", metadata: ["tenant": .string(tenant.configuration.slug), "request_id": .string(record.requestID)])
                    response = FHIRResponse.error(FHIRError(status: 503, code: .transient, "the request could not be audited, so it was not served; retry later"))
                }
            }
            CORSPolicy.decorate(&response, origin: origin, tenant: tenant.configuration)
            return response
        }
    }

    /// Public documents and preflights are not PHI; everything else on a tenant path is audited.
    static func isAudited(_ interaction: String?) -> Bool {
        !["capabilities", "smart-configuration", "cors-preflight"].contains(interaction ?? "")
    }

    private func tenantResponse(_ request: Request, tenant: ResolvedTenant, rest: [String], subjects: AuditSubjects, address: String?,
                                record: inout RequestRecord) async throws -> Response {
        guard let interaction = FHIRInteraction.parse(method: request.method.rawValue, rest: rest) else {
            throw FHIRError.notFound("no FHIR endpoint at this path")
        }
        record.interaction = interaction.name
        record.resourceType = interaction.resourceType
        return try await handle(interaction, request: request, tenant: tenant, subjects: subjects, address: address, record: &record)
    }

    private func handle(_ interaction: FHIRInteraction, request: Request, tenant: ResolvedTenant, subjects: AuditSubjects, address: String?,
                        record: inout RequestRecord) async throws -> Response {
        let parameters = try QueryString.parse(request.uri.query)
        let format = parameters.last { $0.0 == "_format" }?.1
        switch interaction {
        case .smartConfiguration:
            return FHIRResponse.json(tenant.smartConfiguration, contentType: ContentNegotiation.plainJSON,
                                     headers: [("Cache-Control", "public, max-age=300")])
        case .capabilities:
            let contentType = try ContentNegotiation.responseType(format: format, accept: request.headers[.accept])
            return try MetadataController.respond(tenant: tenant, parameters: parameters, request: request, contentType: contentType)
        default:
            break
        }
        guard tenant.configuration.status == .active else {
            record.authFailure = AuthFailure.tenantSuspended.reason
            throw AuthFailure.tenantSuspended.fhirError
        }
        let contentType = try ContentNegotiation.responseType(format: format, accept: request.headers[.accept])
        let scope: TenantScope
        do {
            guard let hmsTenantID = tenant.hmsTenantID else { throw FHIRError.serviceUnavailable }
            scope = try await services.verifier.authorize(authorization: request.headers[.authorization], tenant: tenant.configuration,
                                                         tenantID: hmsTenantID)
        } catch let failure as AuthFailure {
            record.authFailure = failure.reason
            throw failure.fhirError
        }
        record.scope = scope
        try await requireUser(for: scope)
        let auditor = WriteAuditor(tenantID: scope.tenantID, request: record, scope: scope, address: address, baseURL: tenant.baseURL)
        if interaction == .bundle {
            let controller = BundleController(services: services, tenant: tenant, scope: scope, policy: ScopePolicy(scope: scope.scope), subjects: subjects,
                                              auditor: auditor)
            let (response, count) = try await controller.handle(request: request, contentType: contentType)
            record.resultCount = count
            return response
        }
        guard let type = interaction.resourceType else {
            throw FHIRError(status: 405, code: .notSupported, "this interaction is not supported")
        }
        let auditTrail = type == "AuditEvent" && [.search(type: type), .read(type: type, id: interaction.readID ?? "")].contains(interaction)
        guard auditTrail || (TenantConfiguration.supportedResourceTypes.contains(type) && tenant.configuration.resourceTypes.contains(type)) else {
            throw FHIRError.notFound("resource type '\(type)' is not served for this tenant")
        }
        let policy = ScopePolicy(scope: scope.scope)
        switch interaction {
        case .read(_, let id), .vread(_, let id, _):
            let scoped = try ScopeAuthorization.scope(scope, policy: policy, access: .read, type: type, baseURL: tenant.baseURL)
            var version: String? = nil
            if case .vread(_, _, let requested) = interaction { version = requested }
            return try await ReadController(services: services, tenant: tenant, scope: scoped, subjects: subjects)
                .read(type: type, id: id, version: version, request: request, contentType: contentType)
        case .search:
            let scoped = try ScopeAuthorization.scope(scope, policy: policy, access: .search, type: type, baseURL: tenant.baseURL)
            var searchParameters = parameters
            let posted = request.method == .post
            if posted {
                searchParameters += try await FormBody.parameters(request)
            }
            let controller = SearchController(services: services, tenant: tenant, scope: scoped, policy: policy, subjects: subjects)
            let (response, count) = try await controller.search(type: type, parameters: searchParameters,
                                                                strict: Self.prefersStrict(request), contentType: contentType, posted: posted)
            record.resultCount = count
            return response
        case .create, .update, .validate:
            guard TenantConfiguration.writableResourceTypes.contains(type) else {
                throw FHIRError(status: 405, code: .notSupported, "the '\(interaction.name)' interaction is not supported for \(type): HMS records are read-only")
            }
            // The write pipeline checks the grant itself, against the entry's own access.
            let controller = WriteController(services: services, tenant: tenant, scope: scope, subjects: subjects, auditor: auditor)
            switch interaction {
            case .update(_, let id): return try await controller.update(type: type, id: id, request: request, contentType: contentType)
            case .validate: return try await controller.validateOnly(type: type, request: request, contentType: contentType)
            default: return try await controller.create(type: type, request: request, contentType: contentType)
            }
        case .history(_, let id):
            let scoped = try ScopeAuthorization.scope(scope, policy: policy, access: .read, type: type, baseURL: tenant.baseURL)
            guard TenantConfiguration.writableResourceTypes.contains(type) else {
                throw FHIRError(status: 405, code: .notSupported, "history is not kept for HMS records; read the current version")
            }
            let (response, count) = try await WriteController(services: services, tenant: tenant, scope: scoped, subjects: subjects)
                .history(type: type, id: id, parameters: parameters, contentType: contentType)
            record.resultCount = count
            return response
        case .unsupported(_, let name):
            throw FHIRError(status: 405, code: .notSupported, "the '\(name)' interaction is not supported for \(type)")
        case .capabilities, .smartConfiguration, .bundle:
            throw FHIRError.notFound("no FHIR endpoint at this path")
        }
    }

    /// `user/` grants act for the `fhirUser`, who must be a Practitioner of this tenant.
    private func requireUser(for scope: TenantScope) async throws {
        guard ScopePolicy(scope: scope.scope).grants.contains(where: { $0.context == .user }) else { return }
        let prefix = "Practitioner/"
        guard let fhirUser = scope.fhirUser, fhirUser.hasPrefix(prefix),
              try await services.repository.read("Practitioner", id: String(fhirUser.dropFirst(prefix.count)), scope: scope) != nil else {
            throw FHIRError.forbidden("user-level scopes need a fhirUser claim naming a Practitioner of this tenant")
        }
    }

    static func prefersStrict(_ request: Request) -> Bool {
        request.headers[values: .prefer].contains { value in
            value.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "handling=strict" }
        }
    }
}

extension HTTPField.Name {
    static let prefer = HTTPField.Name("Prefer")!
}

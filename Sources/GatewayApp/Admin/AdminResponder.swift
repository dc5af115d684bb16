import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HTTPTypes
import Hummingbird
import Logging

/// The admin API, on its own listener (`admin.port`, default 127.0.0.1:8081) and never under a
/// tenant path: tenant registry operations for operators, with tokens of the admin issuer that
/// carry the admin scope. Answers are JSON; errors are OperationOutcomes, as on the FHIR API.
struct AdminResponder: HTTPResponder {
    typealias Context = GatewayRequestContext
    let services: GatewayServices
    let registry: TenantRegistry

    static let maximumBodyBytes = 64 * 1024
    static let defaultPageSize = 100
    static let maximumPageSize = 1000

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        var subject: String?
        let response: Response
        do {
            let actor = try await authenticate(request, context: context)
            subject = actor.subject
            response = try await route(request, actor: actor)
        } catch {
            let failure: FHIRError
            if let refusal = error as? TenantRegistry.Failure {
                failure = Self.fhirError(refusal)
            } else {
                failure = .classify(error, logger: services.logger)
            }
            response = FHIRResponse.error(failure)
                .withHeaders(request.method == .get ? [] : [("Cache-Control", "no-store")])
            log(request, status: response.status.code, subject: subject, started: started)
            return response
        }
        log(request, status: response.status.code, subject: subject, started: started)
        return response
    }

    private func log(_ request: Request, status: Int, subject: String?, started: ContinuousClock.Instant) {
        let path = request.uri.path
        // A route template from fixed parts: nothing the client typed reaches the log.
        var template = path == "/admin/tenants" ? path : "other"
        if path.hasPrefix("/admin/tenants/") {
            let rest = path.dropFirst("/admin/tenants/".count).split(separator: "/", omittingEmptySubsequences: false)
            switch rest.count {
            case 1: template = "/admin/tenants/{slug}"
            case 2 where rest[1] == "suspend" || rest[1] == "resume": template = "/admin/tenants/{slug}/\(rest[1])"
            default: template = "/admin/tenants/{slug}/{other}"
            }
        }
        services.logger.info("admin request", metadata: [
            "http.method": .string(request.method.rawValue), "http.route": .string(template), "http.status": .stringConvertible(status),
            "admin.subject": .string(subject ?? "-"),
            "duration_ms": .stringConvertible(Double((ContinuousClock.now - started) / .microseconds(1)) / 1000),
        ])
    }

    private func authenticate(_ request: Request, context: Context) async throws -> TenantRegistry.Actor {
        do {
            let identity = try await services.verifier.authorizeAdmin(authorization: request.headers[.authorization],
                                                                      admin: services.configuration.admin)
            return TenantRegistry.Actor(subject: identity.subject, clientID: identity.clientID, address: context.address)
        } catch let failure as AuthFailure {
            throw failure.fhirError
        }
    }

    private func route(_ request: Request, actor: TenantRegistry.Actor) async throws -> Response {
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard segments.count >= 2, segments[0] == "admin", segments[1] == "tenants" else { throw FHIRError.notFound("no admin endpoint at this path") }
        let parameters = try QueryString.parse(request.uri.query)
        switch (request.method, segments.count) {
        case (.get, 2), (.head, 2):
            return try await list(parameters)
        case (_, 2):
            throw FHIRError(status: 405, code: .notSupported, "use GET on /admin/tenants", headers: [("Allow", "GET, HEAD")])
        case (.get, 3), (.head, 3):
            guard let tenant = try await registry.get(segments[2]) else { throw FHIRError.notFound("no tenant '\(Self.shown(segments[2]))'") }
            return document(tenant)
        case (.put, 3):
            let body = try await Self.body(request)
            let (outcome, tenant) = try await registry.put(segments[2], document: body, actor: actor)
            try await putInForce(tenant)
            return document(tenant, status: outcome == .created ? .created : .ok, outcome: outcome)
        case (.patch, 3):
            let body = try await Self.body(request, mergePatch: true)
            let (outcome, tenant) = try await registry.patch(segments[2], changes: body, actor: actor)
            try await putInForce(tenant)
            return document(tenant, outcome: outcome)
        case (.delete, 3):
            let purge = try Self.flag(parameters, "purge")
            let removed = try await registry.delete(segments[2], purge: purge, actor: actor)
            try await services.tenants.refresh()
            services.limiter.forget(slug: segments[2])
            services.quota.forget(slug: segments[2])
            var result = JSONObject()
            result.append("slug", segments[2])
            result.append("deleted", .bool(true))
            result.append("purged", .object(["stored_resources": .int(Int(removed.storedResources)),
                                             "audit_records": .int(Int(purge ? removed.auditRecords : 0))]))
            return FHIRResponse.json(.object(result), contentType: ContentNegotiation.plainJSON)
        case (.post, 4) where segments[3] == "suspend" || segments[3] == "resume":
            let (outcome, tenant) = try await registry.setStatus(segments[2], segments[3] == "suspend" ? .suspended : .active, actor: actor)
            try await putInForce(tenant)
            return document(tenant, outcome: outcome)
        case (_, 3):
            throw FHIRError(status: 405, code: .notSupported, "use GET, PUT, PATCH or DELETE on a tenant",
                            headers: [("Allow", "GET, HEAD, PUT, PATCH, DELETE")])
        default:
            throw FHIRError.notFound("no admin endpoint at this path")
        }
    }

    /// This replica serves the change at once (others at their next poll); a JWKS URL is fetched now.
    private func putInForce(_ tenant: TenantConfiguration) async throws {
        try await services.tenants.refresh()
        services.quota.forget(slug: tenant.slug)
        if case .url = tenant.keySource, tenant.status == .active {
            try? await services.verifier.install(realm: tenant.slug, keySource: tenant.keySource, fetchNow: true)
        }
    }

    private func list(_ parameters: [(String, String)]) async throws -> Response {
        for (name, _) in parameters where !["tier", "status", "_count", "after"].contains(name) {
            throw FHIRError.badRequest("unknown parameter '\(Self.shown(name))' (known: tier, status, _count, after)")
        }
        let tier = try parameters.last { $0.0 == "tier" }.map { name, value in
            guard let tier = TenantConfiguration.Tier(rawValue: value) else { throw FHIRError.badRequest("tier must be enterprise, professional or starter") }
            return tier
        }
        let status = try parameters.last { $0.0 == "status" }.map { name, value in
            guard let status = TenantConfiguration.Status(rawValue: value) else { throw FHIRError.badRequest("status must be active or suspended") }
            return status
        }
        var count = Self.defaultPageSize
        if let text = parameters.last(where: { $0.0 == "_count" })?.1 {
            guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                throw FHIRError.badRequest("_count must be between 1 and \(Self.maximumPageSize)")
            }
            count = value
        }
        let after = parameters.last { $0.0 == "after" }?.1
        if let after, !TenantConfiguration.isValidSlug(after) { throw FHIRError.badRequest("after must be a tenant slug") }
        let page = try await registry.list(after: after, tier: tier, status: status, count: count)
        var result = JSONObject()
        result.append("tenants", .array(page.tenants.map(TenantDocument.render)))
        if let next = page.next {
            var query = "after=\(next)&_count=\(count)"
            if let tier { query += "&tier=\(tier.rawValue)" }
            if let status { query += "&status=\(status.rawValue)" }
            result.append("next", "/admin/tenants?\(query)")
        }
        return FHIRResponse.json(.object(result), contentType: ContentNegotiation.plainJSON)
    }

    private func document(_ tenant: TenantConfiguration, status: HTTPResponse.Status = .ok,
                          outcome: TenantRegistry.Outcome? = nil) -> Response {
        var headers: [(String, String)] = []
        if status == .created { headers.append(("Location", "/admin/tenants/\(tenant.slug)")) }
        if let outcome { headers.append(("X-Registry-Outcome", outcome.rawValue)) }
        return FHIRResponse.json(TenantDocument.render(tenant), status: status, contentType: ContentNegotiation.plainJSON, headers: headers)
    }

    /// A JSON object body of at most 64 KB (`application/json`, or `application/merge-patch+json` for PATCH).
    static func body(_ request: Request, mergePatch: Bool = false) async throws -> JSON {
        try ResourceBody.requireIdentityEncoding(request)
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let accepted = mergePatch ? ["application/json", "application/merge-patch+json"] : ["application/json"]
        guard let mediaType, accepted.contains(mediaType) else {
            throw FHIRError(status: 415, code: .notSupported, "the body must be \(accepted.joined(separator: " or "))")
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maximumBodyBytes {
            throw FHIRError(status: 413, code: .tooLong, "the body is larger than \(maximumBodyBytes) bytes")
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maximumBodyBytes) } catch {
            throw FHIRError(status: 413, code: .tooLong, "the body is larger than \(maximumBodyBytes) bytes")
        }
        do {
            let json = try JSONParser.parse(Array(buffer.readableBytesView), maximumDepth: 16)
            guard case .object = json else { throw FHIRError.badRequest("the body must be a JSON object", code: .structure) }
            return json
        } catch let error as JSONParser.Failure {
            throw FHIRError.badRequest("the body is not valid JSON: \(error.message) at byte \(error.offset)", code: .structure)
        }
    }

    static func flag(_ parameters: [(String, String)], _ name: String) throws -> Bool {
        guard let value = parameters.last(where: { $0.0 == name })?.1 else { return false }
        switch value {
        case "true": return true
        case "false": return false
        default: throw FHIRError.badRequest("\(name) must be true or false")
        }
    }

    static func fhirError(_ failure: TenantRegistry.Failure) -> FHIRError {
        switch failure {
        case .notFound: .notFound("no such tenant")
        case .invalid(let field, let problem): .badRequest("\(field): \(problem)", expression: [field])
        case .conflict(let message): FHIRError(status: 409, code: .conflict, message)
        }
    }

    /// A client-typed name, bounded and printable, for a diagnostic.
    static func shown(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.prefix(64).map(Character.init))
    }
}

private extension Response {
    func withHeaders(_ fields: [(String, String)]) -> Response {
        var response = self
        for (name, value) in fields { if let field = HTTPField.Name(name) { response.headers[field] = value } }
        return response
    }
}

import FHIRModels
import FHIRSearch
import Foundation
import GatewayAuth
import GatewayStore
import HMSMapping
import HTTPTypes
import Hummingbird

/// Create, update and history of the resources partners post (lab Observations and DiagnosticReports).
struct WriteController {
    let services: GatewayServices
    let tenant: ResolvedTenant
    let scope: TenantScope
    var subjects = AuditSubjects()
    /// Commits each write's audit record with the write.
    var auditor: WriteAuditor?

    enum Return: String { case minimal, representation, operationOutcome = "OperationOutcome" }

    static func preferredReturn(_ request: Request) -> Return {
        PreferHeader(request.headers[values: .prefer])["return"].flatMap(Return.init(rawValue:)) ?? .representation
    }

    func headers(type: String, id: String, versionID: Int, lastUpdated: Int64) -> [(String, String)] {
        [("Location", "\(tenant.baseURL)/\(type)/\(id)/_history/\(versionID)"), ("ETag", "W/\"\(versionID)\""),
         ("Last-Modified", CivilTime.httpDate(epochSeconds: lastUpdated))]
    }

    func respond(_ resource: JSON, status: HTTPResponse.Status, headers: [(String, String)], prefer: Return, contentType: String, message: String) -> Response {
        switch prefer {
        case .minimal:
            var response = FHIRResponse.json(.null, status: status, contentType: contentType, headers: headers)
            response.body = .init()
            return response
        case .representation:
            return FHIRResponse.json(resource, status: status, contentType: contentType, headers: headers)
        case .operationOutcome:
            return FHIRResponse.json(OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational, diagnostics: message)]),
                                     status: status, contentType: contentType, headers: headers)
        }
    }

    /// `POST Type`, optionally conditional (`If-None-Exist`). `scope` is the request's, unconfined:
    /// the write pipeline applies the create (and search) grant itself.
    func create(type: String, request: Request, contentType: String) async throws -> Response {
        let (resource, _) = try await ResourceBody.read(request)
        let intent = WritePipeline.Intent(type: type, action: .create, resource: resource, ifNoneExist: request.headers[.ifNoneExist])
        return try await respond(to: intent, request: request, contentType: contentType)
    }

    /// `PUT Type/id` of an existing resource, optionally with `If-Match`.
    func update(type: String, id: String, request: Request, contentType: String) async throws -> Response {
        let (resource, _) = try await ResourceBody.read(request)
        let intent = WritePipeline.Intent(type: type, action: .update(id: id), resource: resource, ifMatch: request.headers[.ifMatch])
        return try await respond(to: intent, request: request, contentType: contentType)
    }

    private func respond(to intent: WritePipeline.Intent, request: Request, contentType: String) async throws -> Response {
        let outcome = try await WritePipeline(services: services, tenant: tenant, scope: scope, auditor: auditor).write(intent)
        subjects.note(outcome.resource)
        if !outcome.matchedExisting, auditor != nil { subjects.markRequestAudited() }
        let version = Int(outcome.versionID) ?? 1
        var headers = headers(type: outcome.type, id: outcome.id, versionID: version, lastUpdated: outcome.lastUpdated)
        if outcome.status != 201 { headers[0] = ("Content-Location", headers[0].1) }
        let message = outcome.matchedExisting ? "If-None-Exist matched \(outcome.type)/\(outcome.id); nothing was created"
            : outcome.status == 201 ? "created \(outcome.type)/\(outcome.id)" : "updated \(outcome.type)/\(outcome.id) to version \(version)"
        return respond(outcome.resource, status: outcome.status == 201 ? .created : .ok, headers: headers, prefer: Self.preferredReturn(request),
                       contentType: contentType, message: message)
    }

    /// `$validate`: the outcome a create would give, without storing anything. The body is the
    /// resource, or a Parameters resource with a `resource` parameter.
    func validateOnly(type: String, request: Request, contentType: String) async throws -> Response {
        var (resource, _) = try await ResourceBody.read(request)
        if resource["resourceType"]?.stringValue == "Parameters" {
            guard let inner = (resource["parameter"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == "resource" })?["resource"] else {
                throw FHIRError.badRequest("the Parameters resource has no 'resource' parameter", code: .required, expression: ["Parameters.parameter"])
            }
            resource = inner
        }
        let writeScope = try ScopeAuthorization.scope(scope, policy: ScopePolicy(scope: scope.scope), access: .create, type: type, baseURL: tenant.baseURL)
        try await WritePipeline(services: services, tenant: tenant, scope: scope).validate(resource, type: type, scope: writeScope)
        return FHIRResponse.json(OperationOutcome.resource([OutcomeIssue(severity: .information, code: .informational,
                                                                          diagnostics: "the \(type) is valid for this tenant; nothing was stored")]),
                                 contentType: contentType)
    }

    /// `_history` of one resource, paged newest first like a search (`_count`, `_since`, `_at`,
    /// sealed `_cursor`). Each version is shown only if it lies inside the grant on its own.
    func history(type: String, id: String, parameters: [(String, String)], contentType: String) async throws -> (Response, Int) {
        let server = services.configuration.server
        var window = HMSRepository.HistoryWindow(limit: server.defaultPageSize + 1)
        var applied: [(String, String)] = []
        var cursor: String?
        for (name, value) in parameters {
            switch name {
            case "_count":
                guard let count = Int(value), count >= 1 else { throw FHIRError.badRequest("_count must be a positive integer", code: .value, expression: ["_count"]) }
                window.limit = min(count, server.maximumPageSize) + 1
                applied.append((name, String(window.limit - 1)))
            case "_since":
                guard let since = FHIRDateTime.parse(value), since.precision == .second else {
                    throw FHIRError.badRequest("_since must be an instant such as 2024-01-01T00:00:00Z", code: .value, expression: ["_since"])
                }
                window.since = since.lower
                applied.append((name, value))
            case "_at":
                guard let at = FHIRDateTime.parse(value) else { throw FHIRError.badRequest("_at must be a FHIR dateTime", code: .value, expression: ["_at"]) }
                window.at = (at.lower, at.upper)
                applied.append((name, value))
            case "_cursor": cursor = value
            case "_format": continue
            default:
                throw FHIRError.badRequest("'\(name)' is not supported on _history (use _count, _since, _at)", code: .notSupported, expression: [name])
            }
        }
        let pageType = "\(type)/_history"
        if let cursor {
            let position = try services.cursors.decode(cursor, tenant: tenant.configuration.slug, resourceType: pageType, parameters: applied + [("id", id)])
            guard let before = Int(position.id) else { throw FHIRError.badRequest("the paging cursor is invalid", code: .invalid, expression: ["_cursor"]) }
            window.before = before
        }
        guard var rows = try await tenant.repository.history(type, id: id, window: window, scope: scope) else { throw ReadController.notFound }
        var next: String?
        if rows.count >= window.limit {
            rows.removeLast(rows.count - (window.limit - 1))
            if let last = rows.last.flatMap(HMSResourceMapper.storedVersion) {
                let sealed = services.cursors.encode(tenant: tenant.configuration.slug, resourceType: pageType, parameters: applied + [("id", id)],
                                                     position: PagePosition(sortValues: [], id: String(last)))
                next = "\(tenant.baseURL)/\(type)/\(id)/_history?" + QueryString.format(applied + [("_cursor", sealed)])
            }
        }
        var entries: [JSON] = []
        for row in rows {
            guard let resource = ResourceRendering.resource(type, row: row, tenant: tenant) else { throw StoredDataError.unreadable }
            guard StoredVersionAdmission.admits(resource, type: type, baseURL: tenant.baseURL, scope: scope) else { continue }
            subjects.note(resource)
            let (versionID, updated) = ResourceRendering.version(type, row: row)
            var entry = JSONObject()
            entry.append("fullUrl", "\(tenant.baseURL)/\(type)/\(id)")
            entry.append("resource", resource)
            entry.append("request", .object(["method": .string(versionID == "1" ? "POST" : "PUT"),
                                             "url": .string(versionID == "1" ? type : "\(type)/\(id)")]))
            entry.append("response", .object(["status": .string(versionID == "1" ? "201 Created" : "200 OK"),
                                              "etag": .string("W/\"\(versionID)\""),
                                              "lastModified": .string(CivilTime.isoInstant(epochSeconds: updated))]))
            entries.append(.object(entry))
        }
        var bundle = JSONObject()
        bundle.append("resourceType", "Bundle")
        bundle.append("id", UUID().lowercasedString)
        bundle.append("type", "history")
        if cursor == nil && next == nil { bundle.append("total", .int(entries.count)) }
        let selfURL = "\(tenant.baseURL)/\(type)/\(id)/_history" + (applied.isEmpty && cursor == nil ? "" : "?" + QueryString.format(applied + (cursor.map { [("_cursor", $0)] } ?? [])))
        var links: [JSON] = [.object(["relation": .string("self"), "url": .string(selfURL)])]
        if let next { links.append(.object(["relation": .string("next"), "url": .string(next)])) }
        bundle.append("link", .array(links))
        bundle.append("entry", .array(entries))
        return (FHIRResponse.json(.object(bundle), contentType: contentType), entries.count)
    }
}

